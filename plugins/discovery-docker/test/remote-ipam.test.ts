import { isBerthError, silentLogger } from '@berth/core';
import { PluginClient, RemoteIpam } from '@berth/discovery-docker';
import { errorOf } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fakePlugin, Refusal } from './fake-plugin.js';

/** An IPAM plugin of one pool, 10.88.0.0/24, giving addresses from .10 up; `poolAnswer` overrides its RequestPool answer. */
async function ipamPlugin(poolAnswer?: () => unknown) {
  const taken = new Set<string>();
  let next = 10;
  const fake = await fakePlugin('ipam', {
    'IpamDriver.RequestPool': (body) => {
      if (poolAnswer) return poolAnswer();
      if (body.Pool && body.Pool !== '10.88.0.0/24') throw new Refusal(`no pool ${body.Pool} here`);
      return { PoolID: 'p1', Pool: '10.88.0.0/24', Data: {} };
    },
    'IpamDriver.ReleasePool': () => ({}),
    'IpamDriver.RequestAddress': (body) => {
      const options = body.Options as Record<string, string>;
      const address =
        (body.Address as string) || (options.RequestAddressType === 'com.docker.network.gateway' ? '10.88.0.1' : `10.88.0.${next++}`);
      if (taken.has(address)) throw new Refusal(`${address} is taken`);
      taken.add(address);
      return { Address: `${address}/24` };
    },
    'IpamDriver.ReleaseAddress': (body) => {
      if (!taken.delete(body.Address as string)) throw new Refusal(`${body.Address} was not handed out`);
      return {};
    },
  });
  const client = new PluginClient('ipam', { kind: 'unix', socketPath: fake.socket, foundIn: fake.socket }, 2000);
  const ipam = () => new RemoteIpam('ipam', client, { LocalDefaultAddressSpace: 'local' }, {}, silentLogger);
  return { fake, ipam, taken };
}

test('requestPool: RequestPool with the address space, --subnet, --ip-range and --ipam-opt, then the gateway asked for as libnetwork asks', async () => {
  const { fake, ipam, taken } = await ipamPlugin();
  try {
    const pool = await ipam().requestPool('net1', { subnet: '10.88.0.0/24', ipRange: '10.88.0.128/25', options: { color: 'blue' } });
    assert.equal(pool, { subnet: '10.88.0.0/24', gateway: '10.88.0.1', ipRange: '10.88.0.128/25', poolId: 'p1' });
    assert.equal(fake.calls[0]!.body, {
      AddressSpace: 'local',
      Pool: '10.88.0.0/24',
      SubPool: '10.88.0.128/25',
      Options: { color: 'blue' },
      V6: false,
    });
    assert.equal(fake.calls[1]!.body, { PoolID: 'p1', Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } });
    assert.equal([...taken], ['10.88.0.1']);
  } finally {
    await fake.close();
  }
});

test('addresses: requested and released by PoolID; after a restart restorePool is enough to release it all; the plugin refusing is its message', async () => {
  const { fake, ipam, taken } = await ipamPlugin();
  try {
    const first = ipam();
    const pool = await first.requestPool('net1', { gateway: '10.88.0.254' });
    assert.is(pool.gateway, '10.88.0.254');
    assert.is(await first.requestAddress('net1'), '10.88.0.10');
    assert.is(await first.requestAddress('net1', '10.88.0.77'), '10.88.0.77');
    const refused = await errorOf(first.requestAddress('net1', '10.88.0.77'));
    assert.is(refused.message, 'plugin ipam: IpamDriver.RequestAddress: 10.88.0.77 is taken');
    await first.releaseAddress('net1', '10.88.0.77');

    // A new berthd: the plugin kept its reservations; berth gives back the recorded pool.
    const second = ipam();
    assert.ok(isBerthError(await errorOf(second.requestAddress('net1')), 'NotFound'));
    second.restorePool('net1', pool);
    second.restoreAddress('net1', '10.88.0.10');
    await second.releaseAddress('net1', '10.88.0.10');
    await second.releasePool('net1');
    assert.equal(taken.size, 0);
    assert.equal(fake.methods().slice(-2), ['IpamDriver.ReleaseAddress', 'IpamDriver.ReleasePool']);
  } finally {
    await fake.close();
  }
});

test('answers outside the pool are refused naming the plugin, and what was reserved is given back', async () => {
  const bad = await ipamPlugin(() => ({ PoolID: 'p9', Pool: 'not a cidr' }));
  try {
    const err = await errorOf(bad.ipam().requestPool('n', {}));
    assert.match(err.message, 'IPAM plugin ipam answered RequestPool with no usable pool');
    assert.equal(bad.fake.methods(), ['IpamDriver.RequestPool', 'IpamDriver.ReleasePool']);
  } finally {
    await bad.fake.close();
  }
  const outside = await ipamPlugin(() => ({ PoolID: 'p2', Pool: '10.88.0.0/24', Data: { 'com.docker.network.gateway': '10.77.0.1/24' } }));
  try {
    const err = await errorOf(outside.ipam().requestPool('n', {}));
    assert.match(err.message, 'IPAM plugin ipam handed out "10.77.0.1/24", which is not an address of its pool 10.88.0.0/24');
    assert.equal(outside.fake.methods(), ['IpamDriver.RequestPool', 'IpamDriver.ReleasePool']);
  } finally {
    await outside.fake.close();
  }
});

test.run();
