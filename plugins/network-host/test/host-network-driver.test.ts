import { execFileSync } from 'node:child_process';
import { EventBus, Forbidden, type NetworkSpec, silentLogger } from '@berth/core';
import plugin, { HostNetworkDriver } from '@berth/network-host';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const spec = (id: string, name: string): NetworkSpec => ({ id, name, driver: 'host', options: {}, labels: {}, internal: false });
const endpoint = { networkId: 'h1', id: 'e1', containerId: 'bsto-c1', aliases: [] };
const hostLinks = () => execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).replace(/\\.*$/gm, '');

test('the manifest declares a network plugin named host whose init returns the driver', async () => {
  assert.is(plugin.kind, 'network');
  assert.is(plugin.name, 'host');
  const driver = await plugin.init({
    root: '/nonexistent',
    execRoot: '/nonexistent',
    dataRoot: '/nonexistent',
    config: {},
    events: new EventBus(),
    log: silentLogger,
  });
  assert.instance(driver, HostNetworkDriver);
  assert.is(driver.name, 'host');
  assert.is(driver.namespaceMode, 'host');
});

test('createNetwork is idempotent for one id and refuses a second network', async () => {
  const driver = new HostNetworkDriver();
  await driver.createNetwork(spec('h1', 'host'));
  await driver.createNetwork(spec('h1', 'host'));
  try {
    await driver.createNetwork(spec('h2', 'myhost'));
    assert.unreachable('a second host network was accepted');
  } catch (err) {
    assert.instance(err, Forbidden);
    assert.match((err as Error).message, /only one instance of "host" network/);
  }
  await driver.deleteNetwork('h1');
  await driver.createNetwork(spec('h2', 'myhost'));
});

test("attach and detach report no address and leave the host's links as they were", async () => {
  const driver = new HostNetworkDriver();
  await driver.createNetwork(spec('h1', 'host'));
  const before = hostLinks();
  assert.equal(await driver.attach(endpoint, undefined), {});
  await driver.detach(endpoint);
  assert.is(hostLinks(), before);
});

test.run();
