import { execFileSync } from 'node:child_process';
import { isBerthError, type NetworkSpec } from '@berth/core';
import plugin, { HostNetworkDriver } from '@berth/network-host';
import { pluginContext } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const spec = (id: string, name: string): NetworkSpec => ({ id, name, driver: 'host', options: {}, labels: {}, internal: false });
const endpoint = { networkId: 'h1', id: 'e1', containerId: 'bsto-c1', aliases: [] };
/**
 * The host's links, one line each, without the veth pairs and bridges that a container
 * engine running beside the tests (Docker's docker0 and its veths on a shared machine)
 * adds and removes at any moment: those would make the comparison below fail at random.
 */
const hostLinks = () =>
  execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .replace(/\\.*$/gm, '')
    .split('\n')
    .filter((line) => line && !/^\d+: (veth|docker|br-)/.test(line))
    .join('\n');

test('the manifest declares a network plugin named host whose init returns the driver', async () => {
  assert.is(plugin.kind, 'network');
  assert.is(plugin.name, 'host');
  const driver = await plugin.init(pluginContext('/nonexistent'));
  assert.instance(driver, HostNetworkDriver);
  assert.is(driver.name, 'host');
  assert.is(driver.namespaceMode, 'host');
  // One predefined network (core's PredefinedNetworkDriver, tested there in full).
  await driver.createNetwork(spec('a', 'host'));
  const err = await driver.createNetwork(spec('b', 'other')).catch((e: unknown) => e);
  assert.ok(isBerthError(err, 'Forbidden'), String(err));
  assert.match((err as Error).message, /only one instance of "host" network is allowed/);
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
