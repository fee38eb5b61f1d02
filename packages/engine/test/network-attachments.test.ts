import { isBerthError } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { attachmentsFromCreate } from '../src/containers/network-attachments.js';
import { refuseOwnNetworkSettings } from '../src/containers/shared-network.js';
import { migrateRecord } from '../src/state/record-schema.js';
import { recordFixture } from './support/record-fixture.js';

const same = (a: string, b: string) => a === b || (['default', 'bridge'].includes(a) && ['default', 'bridge'].includes(b));

test("a create's networks: the mode's first with its settings, then the others in the request's order; container: has none", () => {
  const networks = attachmentsFromCreate(
    {
      Image: 'b',
      MacAddress: '02:42:0a:00:00:07',
      NetworkingConfig: {
        EndpointsConfig: {
          back: { Aliases: ['db', 'db', ''], GwPriority: 2 },
          bridge: { IPAMConfig: { IPv4Address: '10.1.0.9' } },
          front: null,
        },
      },
    },
    'default',
    same,
  );
  assert.equal(networks, [
    { network: 'default', ipv4Address: '10.1.0.9', macAddress: '02:42:0a:00:00:07' },
    { network: 'back', aliases: ['db'], gwPriority: 2 },
    { network: 'front' },
  ]);
  assert.equal(attachmentsFromCreate({ Image: 'b' }, 'net1', same), [{ network: 'net1' }]);
  assert.equal(
    attachmentsFromCreate({ Image: 'b', NetworkingConfig: { EndpointsConfig: { 'container:x': {} } } }, 'container:x', same),
    [],
  );
  assert.throws(
    () =>
      attachmentsFromCreate(
        { Image: 'b', NetworkingConfig: { EndpointsConfig: { 'container:x': { IPAMConfig: { IPv4Address: '10.0.0.2' } } } } },
        'container:x',
        same,
      ),
    /invalid config for network container:x/,
  );
  assert.throws(
    () =>
      attachmentsFromCreate(
        { Image: 'b', NetworkingConfig: { EndpointsConfig: { n: { IPAMConfig: { IPv4Address: '10.0.0' } } } } },
        'n',
        same,
      ),
    (err: unknown) => isBerthError(err, 'InvalidArgument'),
  );
});

test("container:<id>: dockerd's refusals, in dockerd's order", () => {
  const refusal = (body: object) => {
    try {
      refuseOwnNetworkSettings({ Image: 'b', ...body });
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };
  assert.is(refusal({}), '');
  assert.is(refusal({ Hostname: 'x', HostConfig: { Dns: ['1.1.1.1'] } }), 'conflicting options: hostname and the network mode');
  assert.is(refusal({ HostConfig: { Dns: ['1.1.1.1'] } }), 'conflicting options: dns and the network mode');
  assert.is(refusal({ HostConfig: { ExtraHosts: ['a:1.2.3.4'] } }), 'conflicting options: custom host-to-IP mapping and the network mode');
  assert.is(
    refusal({ NetworkingConfig: { EndpointsConfig: { 'container:x': { MacAddress: '02:42:0a:00:00:07' } } } }),
    'conflicting options: mac-address and the network mode',
  );
  assert.is(
    refusal({ HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '8080' }] } } }),
    'conflicting options: port publishing and the container type network mode',
  );
  assert.is(refusal({ ExposedPorts: { '80/tcp': {} } }), 'conflicting options: port exposing and the container type network mode');
});

test("a record of schema 2 (one network) migrates to the list: its mode's network with the create's --ip and MAC", () => {
  const { networks: _, ...current } = recordFixture('a'.repeat(64), 'web');
  const old = {
    ...current,
    schemaVersion: 2,
    networkMode: 'web',
    endpointRequest: { ipv4Address: '10.1.0.9' },
    config: { ...current.config, MacAddress: '02:42:0a:00:00:07' },
  };
  const migrated = migrateRecord(JSON.parse(JSON.stringify(old)));
  assert.equal(migrated.networks, [{ network: 'web', ipv4Address: '10.1.0.9', macAddress: '02:42:0a:00:00:07' }]);
  assert.not.ok('endpointRequest' in migrated);
  assert.equal(migrateRecord({ ...old, networkMode: 'container:abc' }).networks, []);
});

test.run();
