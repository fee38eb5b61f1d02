import { containerCreateShape, isBerthError, shapes } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const { arrayOf, boolean, integer, keySet, mapOf, object, string, stringArray, stringMap, stringOrStringArray } = shapes;

/** The message of the InvalidArgument `fn` throws; fails the test if it throws nothing or something else. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isBerthError(err, 'InvalidArgument'), `expected InvalidArgument, got ${String(err)}`);
    return (err as Error).message;
  }
  assert.unreachable('expected a refusal');
  return '';
}

const parse = (body: unknown) => containerCreateShape.parse(body, '');

test('strings: a string passes, anything else is refused naming the field', () => {
  assert.is(string.parse('x', 'Image'), 'x');
  assert.is(
    refusal(() => parse({ Image: 5 })),
    'invalid Image: expected a string, got 5',
  );
  assert.is(
    refusal(() => parse({ HostConfig: { NetworkMode: ['host'] } })),
    'invalid HostConfig.NetworkMode: expected a string, got ["host"]',
  );
});

test('string arrays: Cmd [1,{}], Binds 5, Env {"a":1} are refused at the field', () => {
  assert.equal(stringArray.parse(['a', 'b'], 'Env'), ['a', 'b']);
  assert.is(
    refusal(() => parse({ Image: 'b', Cmd: [1, {}] })),
    'invalid Cmd: expected a string or an array of strings, got [1,{}]',
  );
  assert.is(
    refusal(() => parse({ Image: 'b', HostConfig: { Binds: 5 } })),
    'invalid HostConfig.Binds: expected an array of strings, got 5',
  );
  assert.is(
    refusal(() => parse({ Image: 'b', Env: { a: 1 } })),
    'invalid Env: expected an array of strings, got {"a":1}',
  );
  assert.match(
    refusal(() => parse({ Image: 'b', Env: ['A=1', null] })),
    /^invalid Env: expected an array of strings/,
  );
});

test('Cmd and Entrypoint take a string or an array of strings, as Docker strslice does', () => {
  assert.is(stringOrStringArray.parse('echo hi', 'Cmd'), 'echo hi');
  assert.equal(parse({ Image: 'b', Cmd: 'echo hi', Entrypoint: ['sh', '-c'] }), { Image: 'b', Cmd: 'echo hi', Entrypoint: ['sh', '-c'] });
  assert.match(
    refusal(() => parse({ Image: 'b', Entrypoint: true })),
    /^invalid Entrypoint: expected a string or an array of strings/,
  );
});

test('maps: Labels [1] (stored as {"0":1} before) and Labels {"a":1} are refused; a string map passes', () => {
  assert.equal(stringMap.parse({ a: 'b' }, 'Labels'), { a: 'b' });
  assert.is(
    refusal(() => parse({ Image: 'b', Labels: [1] })),
    'invalid Labels: expected a map of strings, got [1]',
  );
  assert.is(
    refusal(() => parse({ Image: 'b', Labels: { a: 1 } })),
    'invalid Labels: expected a map of strings, got {"a":1}',
  );
  assert.is(
    refusal(() => parse({ Image: 'b', HostConfig: { StorageOpt: 'size=1G' } })),
    'invalid HostConfig.StorageOpt: expected a map of strings, got "size=1G"',
  );
});

test('key sets (ExposedPorts, Volumes) keep their keys and drop what the values held', () => {
  assert.equal(keySet.parse({ '80/tcp': {}, '/data': null }, 'ExposedPorts'), { '80/tcp': {}, '/data': {} });
  assert.equal(parse({ Image: 'b', Volumes: { '/data': { junk: 1 } } }).Volumes, { '/data': {} });
  assert.match(
    refusal(() => parse({ Image: 'b', Volumes: ['/data'] })),
    /^invalid Volumes: expected a map of empty objects/,
  );
  assert.match(
    refusal(() => parse({ Image: 'b', ExposedPorts: { '80/tcp': 1 } })),
    /^invalid ExposedPorts/,
  );
});

test('numbers: integers pass; fractions, strings and unsafe numbers are refused', () => {
  assert.is(integer.parse(67108864, 'HostConfig.Memory'), 67108864);
  assert.is(integer.parse(-1, 'HostConfig.MemorySwap'), -1);
  assert.is(
    refusal(() => parse({ Image: 'b', HostConfig: { Memory: '64m' } })),
    'invalid HostConfig.Memory: expected an integer, got "64m"',
  );
  assert.is(
    refusal(() => parse({ Image: 'b', HostConfig: { NanoCpus: 1.5 } })),
    'invalid HostConfig.NanoCpus: expected an integer, got 1.5',
  );
  assert.match(
    refusal(() => parse({ Image: 'b', StopTimeout: 1e300 })),
    /^invalid StopTimeout: expected an integer/,
  );
});

test('booleans: true/false pass; "true" and 1 are refused', () => {
  assert.is(boolean.parse(false, 'Tty'), false);
  assert.is(
    refusal(() => parse({ Image: 'b', Tty: 'true' })),
    'invalid Tty: expected a boolean, got "true"',
  );
  assert.is(
    refusal(() => parse({ Image: 'b', HostConfig: { Privileged: 1 } })),
    'invalid HostConfig.Privileged: expected a boolean, got 1',
  );
});

test('nested objects are checked field by field and named by path and index', () => {
  assert.is(
    refusal(() => parse({ Image: 'b', HostConfig: { RestartPolicy: { Name: 'no', MaximumRetryCount: '3' } } })),
    'invalid HostConfig.RestartPolicy.MaximumRetryCount: expected an integer, got "3"',
  );
  assert.is(
    refusal(() =>
      parse({
        Image: 'b',
        HostConfig: {
          Ulimits: [
            { Name: 'nofile', Soft: 1, Hard: 2 },
            { Name: 'nproc', Soft: 'x' },
          ],
        },
      }),
    ),
    'invalid HostConfig.Ulimits[1].Soft: expected an integer, got "x"',
  );
  assert.is(
    refusal(() => parse({ Image: 'b', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 8080 }] } } })),
    'invalid HostConfig.PortBindings["80/tcp"][0].HostPort: expected a string, got 8080',
  );
  assert.is(
    refusal(() => parse({ Image: 'b', HostConfig: { Mounts: [{ Type: 'bind', BindOptions: { NonRecursive: 'yes' } }] } })),
    'invalid HostConfig.Mounts[0].BindOptions.NonRecursive: expected a boolean, got "yes"',
  );
  assert.is(
    refusal(() => parse({ Image: 'b', HostConfig: [] })),
    'invalid HostConfig: expected an object, got []',
  );
  assert.is(
    refusal(() => parse({ Image: 'b', NetworkingConfig: { EndpointsConfig: { default: { Aliases: 'web' } } } })),
    'invalid NetworkingConfig.EndpointsConfig.default.Aliases: expected an array of strings, got "web"',
  );
  assert.is(
    refusal(() => parse({ Image: 'b', HostConfig: { DeviceRequests: [{ Capabilities: [['gpu'], 'x'] }] } })),
    'invalid HostConfig.DeviceRequests[0].Capabilities[1]: expected an array of strings, got "x"',
  );
  assert.is(
    refusal(() => parse([1])),
    'invalid body: expected a container config (a JSON object), got [1]',
  );
});

test('null is accepted for any field and means absent, as in Go; null inside a collection is refused', () => {
  const body = parse({
    Image: 'b',
    Hostname: null,
    Cmd: null,
    Labels: null,
    StopTimeout: null,
    HostConfig: { Binds: null, Memory: null, RestartPolicy: null, PidsLimit: null, PortBindings: { '80/tcp': null } },
    NetworkingConfig: null,
  });
  assert.equal(body, { Image: 'b', HostConfig: { PortBindings: { '80/tcp': null } } });
  assert.match(
    refusal(() => parse({ Image: 'b', Labels: { a: null } })),
    /^invalid Labels: expected a map of strings/,
  );
  assert.match(
    refusal(() => parse({ Image: 'b', HostConfig: { Ulimits: [null] } })),
    /^invalid HostConfig\.Ulimits\[0\]: expected an object/,
  );
});

test('unknown fields are dropped, as dockerd ignores them; known ones are kept as sent', () => {
  const body = parse({ Image: 'b', Bogus: [1], HostConfig: { Nope: {}, Memory: 0 }, Labels: { a: 'b' } });
  assert.equal(body, { Image: 'b', HostConfig: { Memory: 0 }, Labels: { a: 'b' } });
});

test('the combinators name collections of structs by their own words', () => {
  const pair = object<{ A?: string }>({ A: string });
  assert.is(arrayOf(pair).expected, 'an array of objects');
  assert.is(mapOf(pair).expected, 'a map of objects');
  assert.equal(mapOf(pair).parse({ 'x y': { A: 'a', B: 1 } }, 'M'), { 'x y': { A: 'a' } });
  assert.is(
    refusal(() => mapOf(pair).parse({ 'x y': { A: 1 } }, 'M')),
    'invalid M["x y"].A: expected a string, got 1',
  );
});

test('what the docker CLI 28 sends for `docker run busybox true` passes unchanged but for its own newer fields', () => {
  const sent = {
    Hostname: '',
    Domainname: '',
    User: '',
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: null,
    Cmd: ['true'],
    Image: 'busybox',
    Volumes: {},
    WorkingDir: '',
    Entrypoint: null,
    OnBuild: null,
    Labels: {},
    HostConfig: {
      Binds: null,
      ContainerIDFile: '',
      LogConfig: { Type: '', Config: {} },
      NetworkMode: 'default',
      PortBindings: {},
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: false,
      VolumeDriver: '',
      VolumesFrom: null,
      ConsoleSize: [0, 0],
      CapAdd: null,
      CapDrop: null,
      CgroupnsMode: '',
      Dns: [],
      DnsOptions: [],
      DnsSearch: [],
      ExtraHosts: null,
      GroupAdd: null,
      IpcMode: '',
      Cgroup: '',
      Links: null,
      OomScoreAdj: 0,
      PidMode: '',
      Privileged: false,
      PublishAllPorts: false,
      ReadonlyRootfs: false,
      SecurityOpt: null,
      UTSMode: '',
      UsernsMode: '',
      ShmSize: 0,
      Isolation: '',
      CpuShares: 0,
      Memory: 0,
      NanoCpus: 0,
      CgroupParent: '',
      BlkioWeight: 0,
      BlkioWeightDevice: [],
      BlkioDeviceReadBps: [],
      BlkioDeviceWriteBps: [],
      BlkioDeviceReadIOps: [],
      BlkioDeviceWriteIOps: [],
      CpuPeriod: 0,
      CpuQuota: 0,
      CpuRealtimePeriod: 0,
      CpuRealtimeRuntime: 0,
      CpusetCpus: '',
      CpusetMems: '',
      Devices: [],
      DeviceCgroupRules: null,
      DeviceRequests: null,
      MemoryReservation: 0,
      MemorySwap: 0,
      MemorySwappiness: -1,
      OomKillDisable: false,
      PidsLimit: 0,
      Ulimits: [],
      CpuCount: 0,
      CpuPercent: 0,
      IOMaximumIOps: 0,
      IOMaximumBandwidth: 0,
      MaskedPaths: null,
      ReadonlyPaths: null,
    },
    NetworkingConfig: {
      EndpointsConfig: {
        default: {
          IPAMConfig: null,
          Links: null,
          Aliases: null,
          MacAddress: '',
          DriverOpts: null,
          GwPriority: 0,
          NetworkID: '',
          EndpointID: '',
          Gateway: '',
          IPAddress: '',
          IPPrefixLen: 0,
          IPv6Gateway: '',
          GlobalIPv6Address: '',
          GlobalIPv6PrefixLen: 0,
          DNSNames: null,
        },
      },
    },
  };
  const body = parse(sent);
  assert.equal(body.Cmd, ['true']);
  assert.equal(body.HostConfig?.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
  assert.is(body.HostConfig?.MemorySwappiness, -1);
  // API 1.44+ fields the CLI sends anyway are dropped, as dockerd 1.41 drops them; GwPriority
  // (1.48) is kept: berth chooses the default route of a container on several networks by it.
  assert.not.ok('DNSNames' in (body.NetworkingConfig?.EndpointsConfig?.default ?? {}));
  assert.is(body.NetworkingConfig?.EndpointsConfig?.default?.GwPriority, 0);
  assert.not.ok('Env' in body);
});

test.run();
