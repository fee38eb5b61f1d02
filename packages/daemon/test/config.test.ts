import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { groupId, mergeDaemonConfig, parseHost, readConfigFile, validateConfigObject } from '../src/index.js';

test('defaults', () => {
  assert.equal(mergeDaemonConfig({}, {}), {
    hosts: ['/run/berth/berth.sock'],
    dataRoot: '/var/lib/berth',
    execRoot: '/run/berth',
    cgroupParent: 'berth',
    logLevel: 'info',
    logFormat: 'text',
    pidfile: '/run/berth/berthd.pid',
    plugins: [],
    pluginConfig: {},
    apiLimits: {},
    defaultBridge: {},
  });
});

test("network settings: bridge, bip and address pools from either side; nftables-table becomes the bridge plugin's table", () => {
  const c = mergeDaemonConfig(
    { bridge: 'br9', 'default-address-pools': ['base=10.199.0.0/16,size=24'], 'nftables-table': 'berth_x' },
    { bip: '10.199.0.1/24', 'plugin-config': { 'network/bridge': { mtu: 1400 } } },
  );
  assert.equal(c.defaultBridge, { name: 'br9', bip: '10.199.0.1/24' });
  assert.equal(c.defaultAddressPools, [{ base: '10.199.0.0/16', size: 24 }]);
  assert.equal(c.pluginConfig['network/bridge'], { mtu: 1400, table: 'berth_x' });
  const file = mergeDaemonConfig({}, { 'default-address-pools': [{ base: '172.80.0.0/16', size: 24 }] });
  assert.equal(file.defaultAddressPools, [{ base: '172.80.0.0/16', size: 24 }]);
  assert.throws(() => mergeDaemonConfig({ 'default-address-pools': ['base=10.0.0.0/8'] }, {}), /invalid default-address-pools entry/);
  assert.throws(() => mergeDaemonConfig({}, { 'default-address-pools': [{ base: 'x', size: 24 }] }), /invalid default-address-pools entry/);
});

test('flags and file settings combine; the pid file follows the exec root', () => {
  const c = mergeDaemonConfig(
    { hosts: ['unix:///tmp/bapi-x.sock'], 'exec-root': '/tmp/bapi-exec' },
    {
      'data-root': '/tmp/bapi-data',
      'storage-driver': 'vfs',
      plugins: ['berth-volume-x'],
      'plugin-config': { 'runtime/runc': { path: '/usr/sbin/runc' } },
    },
    '/etc/berth/daemon.json',
  );
  assert.equal(c.hosts, ['/tmp/bapi-x.sock']);
  assert.is(c.dataRoot, '/tmp/bapi-data');
  assert.is(c.pidfile, '/tmp/bapi-exec/berthd.pid');
  assert.is(c.storageDriver, 'vfs');
  assert.equal(c.plugins, ['berth-volume-x']);
  assert.equal(c.pluginConfig, { 'runtime/runc': { path: '/usr/sbin/runc' } });
  assert.is(c.configFile, '/etc/berth/daemon.json');
  assert.is(c.defaultRuntime, undefined);
});

test('a setting both as a flag and in the file is an error naming both values', () => {
  assert.throws(
    () => mergeDaemonConfig({ 'data-root': '/a', debug: true }, { 'data-root': '/b', debug: false }, '/etc/berth/daemon.json'),
    (err: Error) =>
      err.message ===
      'unable to configure berthd with file /etc/berth/daemon.json: the following directives are specified both as a flag and in the configuration file: data-root: (from flag: /a, from file: /b), debug: (from flag: true, from file: false)',
  );
});

test('debug means log level debug unless a level is given; dockerd level names map', () => {
  assert.is(mergeDaemonConfig({ debug: true }, {}).logLevel, 'debug');
  assert.is(mergeDaemonConfig({ debug: true, 'log-level': 'error' }, {}).logLevel, 'error');
  assert.is(mergeDaemonConfig({ 'log-level': 'warning' }, {}).logLevel, 'warn');
  assert.throws(() => mergeDaemonConfig({ 'log-level': 'loud' }, {}), /invalid log level "loud"/);
  assert.throws(() => mergeDaemonConfig({ 'log-format': 'xml' }, {}), /invalid log format "xml"/);
});

test('hosts: unix only, absolute paths, relative paths resolved elsewhere', () => {
  assert.is(parseHost('unix:///run/x.sock'), '/run/x.sock');
  assert.is(parseHost('unix://'), '/run/berth/berth.sock');
  assert.throws(() => parseHost('tcp://127.0.0.1:2375'), /berthd serves UNIX sockets only/);
  assert.throws(() => parseHost('fd://'), /socket activation is not supported/);
  assert.throws(() => parseHost('/run/x.sock'), /use unix:\/\/\/path/);
  assert.throws(() => parseHost('unix://rel.sock'), /must be absolute/);
  assert.equal(mergeDaemonConfig({ hosts: ['unix:///a', 'unix:///a'] }, {}).hosts, ['/a']);
});

test('plugin-config keys must be <kind>/<name>', () => {
  assert.throws(() => mergeDaemonConfig({}, { 'plugin-config': { runc: {} } }), /must be <kind>\/<name>/);
  assert.throws(() => mergeDaemonConfig({}, { 'plugin-config': { 'gpu/x': {} } }), /kind one of storage, network, volume, runtime/);
  assert.throws(
    () => mergeDaemonConfig({}, { 'plugin-config': { 'runtime/runc': [] as unknown as Record<string, unknown> } }),
    /must be an object/,
  );
});

test('daemon.json validation: types, unknown keys, ignored dockerd keys', () => {
  const ok = validateConfigObject({ 'data-root': '/x', hosts: ['unix:///y'], 'live-restore': true }, 'd.json');
  assert.equal(ok.settings, { 'data-root': '/x', hosts: ['unix:///y'] });
  assert.equal(ok.warnings, ['d.json: "live-restore" is a dockerd setting berthd does not support yet; ignored']);
  assert.throws(() => validateConfigObject({ 'data-root': 5 }, 'd.json'), /"data-root" must be a string, got number/);
  assert.throws(() => validateConfigObject({ hosts: 'unix:///x' }, 'd.json'), /"hosts" must be an array of strings/);
  assert.throws(() => validateConfigObject({ colour: 'red', size: 1 }, 'd.json'), /don't match any configuration option: colour, size/);
  assert.throws(() => validateConfigObject([], 'd.json'), /must be a JSON object, got array/);
});

test('readConfigFile: missing is empty, malformed names the file', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-daemon-cfg-');
  try {
    assert.equal(await readConfigFile(join(dir, 'none.json')), { found: false, settings: {}, warnings: [] });
    writeFileSync(join(dir, 'bad.json'), '{"data-root": ');
    await readConfigFile(join(dir, 'bad.json')).then(
      () => assert.unreachable('should fail'),
      (err: Error) => assert.match(err.message, new RegExp(`^${dir}/bad\\.json is not valid JSON: `)),
    );
    writeFileSync(join(dir, 'good.json'), '{"log-level": "debug"}');
    assert.equal((await readConfigFile(join(dir, 'good.json'))).settings, { 'log-level': 'debug' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('groupId reads /etc/group format', () => {
  const dir = mkdtempSync('/tmp/berth-unit-daemon-grp-');
  try {
    writeFileSync(join(dir, 'group'), 'root:x:0:\nberth:x:997:alice,bob\n');
    assert.is(groupId('berth', join(dir, 'group')), 997);
    assert.is(groupId('docker', join(dir, 'group')), undefined);
    assert.is(groupId('berth', join(dir, 'nope')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
