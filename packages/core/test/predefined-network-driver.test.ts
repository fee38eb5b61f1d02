import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isBerthError, type NetworkSpec, PredefinedNetworkDriver } from '../src/index.js';

class ExampleDriver extends PredefinedNetworkDriver {
  readonly name = 'example';
  readonly namespaceMode = 'private' as const;
}

const spec = (id: string, name: string): NetworkSpec => ({ id, name, driver: 'example', options: {}, labels: {}, internal: false });
const endpoint = { networkId: 'n1', id: 'e1', containerId: 'c1', aliases: [] };

test('createNetwork is idempotent for one id and refuses a second network, naming the driver', async () => {
  const driver = new ExampleDriver();
  await driver.createNetwork(spec('n1', 'example'));
  await driver.createNetwork(spec('n1', 'example'));
  try {
    await driver.createNetwork(spec('n2', 'other'));
    assert.unreachable('a second network was accepted');
  } catch (err) {
    assert.ok(isBerthError(err, 'Forbidden'), String(err));
    assert.is((err as Error).message, 'only one instance of "example" network is allowed (cannot create other)');
  }
  await driver.deleteNetwork(spec('n1', 'example'));
  await driver.createNetwork(spec('n2', 'other'));
});

test('attach reports no address; detach, even of an unknown endpoint, does nothing', async () => {
  const driver = new ExampleDriver();
  assert.equal(await driver.attach(endpoint, undefined), {});
  await driver.detach({ ...endpoint, id: 'never-attached' });
});

test.run();
