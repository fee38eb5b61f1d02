import { execFileSync } from 'node:child_process';
import { isBerthError, type NetworkSpec } from '@berth/core';
import plugin, { NoneNetworkDriver } from '@berth/network-none';
import { pluginContext, testNetns } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const spec = (id: string, name: string): NetworkSpec => ({ id, name, driver: 'none', options: {}, labels: {}, internal: false });
const endpoint = { networkId: 'n1', id: 'e1', containerId: 'bsto-c1', aliases: [] };

function linkNames(netnsPath?: string): string[] {
  const args = netnsPath ? [`--net=${netnsPath}`, 'ip', '-o', 'link', 'show'] : ['ip', '-o', 'link', 'show'];
  const out = execFileSync(netnsPath ? 'nsenter' : args.shift()!, args, { encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((line) => line.split(':')[1]!.trim().split('@')[0]!);
}

test('the manifest declares a network plugin named none whose init returns the driver', async () => {
  assert.is(plugin.kind, 'network');
  assert.is(plugin.name, 'none');
  const driver = await plugin.init(pluginContext('/nonexistent'));
  assert.instance(driver, NoneNetworkDriver);
  assert.is(driver.name, 'none');
  assert.is(driver.namespaceMode, 'private');
  // One predefined network (core's PredefinedNetworkDriver, tested there in full).
  await driver.createNetwork(spec('a', 'none'));
  const err = await driver.createNetwork(spec('b', 'other')).catch((e: unknown) => e);
  assert.ok(isBerthError(err, 'Forbidden'), String(err));
  assert.match((err as Error).message, /only one instance of "none" network is allowed/);
});

test('attach to a real private namespace adds nothing: only lo is there', async () => {
  const driver = new NoneNetworkDriver();
  await driver.createNetwork(spec('n1', 'none'));
  const ns = await testNetns(30);
  try {
    const netns = ns.path;
    const info = await driver.attach(endpoint, netns);
    assert.equal(info, {});
    assert.equal(linkNames(netns), ['lo']);
    await driver.detach(endpoint);
    assert.equal(linkNames(netns), ['lo']);
  } finally {
    ns.close();
  }
});

test('detach of an unknown endpoint is a no-op: it resolves, twice, and the network is untouched', async () => {
  const driver = new NoneNetworkDriver();
  await driver.createNetwork(spec('n1', 'none'));
  const unknown = { ...endpoint, id: 'never-attached' };
  const outcome = (p: Promise<void>) =>
    p.then(
      (value) => ({ resolved: value }),
      (err: unknown) => ({ rejected: String(err) }),
    );
  assert.equal(await outcome(driver.detach(unknown)), { resolved: undefined });
  assert.equal(await outcome(driver.detach(unknown)), { resolved: undefined });
  // Still the one predefined network: its id is accepted again, another is still refused.
  await driver.createNetwork(spec('n1', 'none'));
  const err = await driver.createNetwork(spec('n2', 'other')).catch((e: unknown) => e);
  assert.ok(isBerthError(err, 'Forbidden'), String(err));
});

test.run();
