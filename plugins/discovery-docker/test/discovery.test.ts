import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isBerthError, silentLogger } from '@berth/core';
import plugin, {
  DockerPluginDiscovery,
  defaultSocketDirs,
  defaultSpecDirs,
  locatePlugin,
  MethodNotSupported,
  PluginClient,
  pluginMediaType,
  RemoteIpam,
  RemoteNetworkDriver,
} from '@berth/discovery-docker';
import { errorOf, pluginContext } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fakePlugin, Refusal } from './fake-plugin.js';

const temp: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync('/tmp/berth-unit-discovery-');
  temp.push(dir);
  return dir;
}
test.after(() => {
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

test("the manifest is discovery/docker, searching Docker's directories unless its config names others", async () => {
  assert.is(plugin.kind, 'discovery');
  assert.is(plugin.name, 'docker');
  assert.equal(defaultSocketDirs, ['/run/docker/plugins', '/run/berth/plugins']);
  assert.equal(defaultSpecDirs, ['/etc/docker/plugins', '/usr/lib/docker/plugins', '/etc/berth/plugins']);
  const discovery = await plugin.init(pluginContext('/nonexistent', { config: { socketDirs: ['/tmp/x'], specDirs: [] } }));
  assert.instance(discovery, DockerPluginDiscovery);
  assert.equal(discovery.kinds, ['network', 'ipam', 'volume']);
  const bad = await errorOf(
    Promise.resolve().then(() => plugin.init(pluginContext('/nonexistent', { config: { socketDirs: 'relative' } }))),
  );
  assert.ok(isBerthError(bad, 'InvalidArgument'));
  assert.match(bad.message, 'plugin-config discovery/docker: socketDirs must be a list of absolute directories');
});

test('locatePlugin: <name>.sock, <name>/<name>.sock, then .spec (unix or tcp URL) and .json spec files; bad specs are named', async () => {
  const sockets = tempDir();
  const specs = tempDir();
  const dirs = { socketDirs: [sockets], specDirs: [specs] };
  assert.is(await locatePlugin('absent', dirs), undefined);
  assert.is(await locatePlugin('../escape', dirs), undefined);

  const flat = await fakePlugin('flat', {});
  const nestedDir = path.join(sockets, 'nested');
  mkdirSync(nestedDir);
  const nested = await fakePlugin('nested', {});
  try {
    // The fake plugins listen in directories of their own: link their sockets where discovery looks.
    symlinkSync(flat.socket, path.join(sockets, 'flat.sock'));
    symlinkSync(nested.socket, path.join(nestedDir, 'nested.sock'));
    assert.equal(await locatePlugin('flat', dirs), {
      kind: 'unix',
      socketPath: path.join(sockets, 'flat.sock'),
      foundIn: path.join(sockets, 'flat.sock'),
    });
    assert.is((await locatePlugin('nested', dirs))?.foundIn, path.join(nestedDir, 'nested.sock'));
  } finally {
    await flat.close();
    await nested.close();
  }

  writeFileSync(path.join(specs, 'byspec.spec'), 'unix:///run/some/where.sock\n');
  assert.equal(await locatePlugin('byspec', dirs), {
    kind: 'unix',
    socketPath: '/run/some/where.sock',
    foundIn: path.join(specs, 'byspec.spec'),
  });
  writeFileSync(path.join(specs, 'bytcp.spec'), 'tcp://127.0.0.1:43999');
  assert.equal(await locatePlugin('bytcp', dirs), { kind: 'tcp', host: '127.0.0.1', port: 43999, foundIn: path.join(specs, 'bytcp.spec') });
  writeFileSync(path.join(specs, 'byjson.json'), JSON.stringify({ Name: 'byjson', Addr: 'unix:///run/j.sock' }));
  assert.is((await locatePlugin('byjson', dirs))?.kind, 'unix');

  writeFileSync(path.join(specs, 'tls.json'), JSON.stringify({ Name: 'tls', Addr: 'tcp://h:1', TLSConfig: { CAFile: '/ca.pem' } }));
  assert.match(
    (await errorOf(locatePlugin('tls', dirs))).message,
    `plugin spec ${path.join(specs, 'tls.json')}: TLS to plugins is not supported`,
  );
  writeFileSync(path.join(specs, 'ftp.spec'), 'ftp://h/x');
  assert.match((await errorOf(locatePlugin('ftp', dirs))).message, 'unsupported scheme ftp:');
  writeFileSync(path.join(specs, 'junk.json'), '{');
  assert.ok(isBerthError(await errorOf(locatePlugin('junk', dirs)), 'InvalidArgument'));
});

test("PluginClient: POSTs JSON with Docker's media type; the plugin's Err comes back with its words; 404 is MethodNotSupported; nobody listening is 'not running'", async () => {
  const fake = await fakePlugin('talker', {
    'Echo.This': (body) => ({ Got: body.Value }),
    'Fail.Now': () => {
      throw new Refusal('the disk is on fire');
    },
  });
  try {
    const client = new PluginClient('talker', { kind: 'unix', socketPath: fake.socket, foundIn: fake.socket }, 2000);
    assert.equal(await client.call('Echo.This', { Value: 42 }), { Got: 42 });
    assert.is(fake.calls[0]!.accept, pluginMediaType);
    assert.is(fake.calls[0]!.contentType, pluginMediaType);
    const refused = await errorOf(client.call('Fail.Now'));
    assert.ok(isBerthError(refused, 'SystemError'));
    assert.is(refused.message, 'plugin talker: Fail.Now: the disk is on fire');
    const missing = await errorOf(client.call('Not.There'));
    assert.instance(missing, MethodNotSupported);
    assert.match(missing.message, 'plugin talker does not implement Not.There');
  } finally {
    await fake.close();
  }
  const gone = new PluginClient('gone', { kind: 'unix', socketPath: fake.socket, foundIn: '/etc/docker/plugins/gone.spec' }, 2000);
  const err = await errorOf(gone.call('Plugin.Activate'));
  assert.match(
    err.message,
    `plugin gone is not running (nothing answers on unix://${fake.socket}, found in /etc/docker/plugins/gone.spec); Plugin.Activate failed`,
  );
});

test('DockerPluginDiscovery: activates, checks Implements, returns the adapter of the kind asked; an IPAM without GetCapabilities is fine', async () => {
  const fake = await fakePlugin('both', {
    'Plugin.Activate': () => ({ Implements: ['NetworkDriver', 'IpamDriver'] }),
    'NetworkDriver.GetCapabilities': () => ({ Scope: 'local' }),
    'IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: 'here', GlobalDefaultAddressSpace: 'there' }),
  });
  const volumeOnly = await fakePlugin('vol', { 'Plugin.Activate': () => ({ Implements: ['VolumeDriver'] }) });
  try {
    const discovery = new DockerPluginDiscovery({
      socketDirs: [fake.dir, volumeOnly.dir],
      specDirs: [],
      timeoutMs: 2000,
      log: silentLogger,
    });
    const network = await discovery.find('network', 'both');
    assert.instance(network?.driver, RemoteNetworkDriver);
    assert.is(network?.driver.name, 'both');
    assert.is(network?.description, `Docker NetworkDriver plugin at unix://${fake.socket}`);
    const ipam = await discovery.find('ipam', 'both');
    assert.instance(ipam?.driver, RemoteIpam);
    assert.equal((ipam!.driver as RemoteIpam).addressSpaces, { LocalDefaultAddressSpace: 'here', GlobalDefaultAddressSpace: 'there' });
    assert.equal(fake.methods(), [
      'Plugin.Activate',
      'NetworkDriver.GetCapabilities',
      'Plugin.Activate',
      'IpamDriver.GetCapabilities',
      'IpamDriver.GetDefaultAddressSpaces',
    ]);
    assert.is(await discovery.find('network', 'vol'), undefined);
    assert.is(await discovery.find('network', 'nobody'), undefined);
    assert.is(await discovery.find('runtime', 'both'), undefined);
  } finally {
    await fake.close();
    await volumeOnly.close();
  }
});

test.run();
