import { type ContainerCreateBody, isBerthError } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isSet, refuseUnsupportedSettings, type SettingsContext } from '../../src/oci/index.js';

const onPrivateNetwork: SettingsContext = { hostNetwork: false };

/** The message of the InvalidArgument the check throws for `body`; fails if it accepts it. */
function refusal(body: ContainerCreateBody, ctx = onPrivateNetwork): string {
  try {
    refuseUnsupportedSettings(body, ctx);
  } catch (err) {
    assert.ok(isBerthError(err, 'InvalidArgument'), `expected InvalidArgument, got ${String(err)}`);
    return (err as Error).message;
  }
  assert.unreachable(`accepted ${JSON.stringify(body)}`);
  return '';
}

/** What the docker CLI 28 sends with `docker run busybox true` (captured on a socket), API 1.41 fields only. */
const cliDefaults: ContainerCreateBody = {
  Hostname: '',
  Domainname: '',
  User: '',
  AttachStdout: true,
  AttachStderr: true,
  Tty: false,
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
    CgroupnsMode: '',
    Dns: [],
    DnsOptions: [],
    DnsSearch: [],
    ExtraHosts: null,
    IpcMode: '',
    Cgroup: '',
    Links: null,
    OomScoreAdj: 0,
    PublishAllPorts: false,
    UsernsMode: '',
    ShmSize: 0,
    Isolation: '',
    BlkioWeight: 0,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: [],
    CpuRealtimePeriod: 0,
    CpusetMems: '',
    Devices: [],
    DeviceCgroupRules: null,
    DeviceRequests: null,
    MemorySwappiness: -1,
    KernelMemory: 0,
    CpuCount: 0,
    IOMaximumBandwidth: 0,
  },
  NetworkingConfig: {
    EndpointsConfig: {
      default: { IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', DriverOpts: null, NetworkID: '', IPPrefixLen: 0 },
    },
  },
};

test('zero values are not requests: what the docker CLI sends on every create passes', () => {
  assert.equal(refuseUnsupportedSettings(cliDefaults, onPrivateNetwork), []);
  assert.equal(refuseUnsupportedSettings({ Image: 'busybox' }, onPrivateNetwork), []);
  assert.equal(
    refuseUnsupportedSettings(
      { Image: 'b', NetworkingConfig: { EndpointsConfig: { default: { IPAMConfig: { IPv4Address: '' } } } } },
      onPrivateNetwork,
    ),
    [],
  );
  for (const zero of [undefined, null, '', 0, false, [], {}]) assert.not.ok(isSet(zero), JSON.stringify(zero));
  for (const set of ['x', 1, -1, true, [0], { a: '' }]) assert.ok(isSet(set), JSON.stringify(set));
});

test('restart policies are accepted; unknown ones, bad retry counts and --rm with a policy are refused as Docker does', () => {
  for (const Name of ['always', 'unless-stopped', 'on-failure', 'no', ''] as const) {
    assert.equal(refuseUnsupportedSettings({ Image: 'b', HostConfig: { RestartPolicy: { Name } } }, onPrivateNetwork), [], Name);
  }
  assert.equal(
    refuseUnsupportedSettings(
      { Image: 'b', HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } } },
      onPrivateNetwork,
    ),
    [],
  );
  assert.match(
    refusal({ Image: 'b', HostConfig: { RestartPolicy: { Name: 'sometimes' as 'no' } } }),
    /^invalid restart policy: unknown policy 'sometimes'/,
  );
  assert.is(
    refusal({ Image: 'b', HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 2 } } }),
    "invalid restart policy: maximum retry count can only be used with 'on-failure'",
  );
  assert.is(
    refusal({ Image: 'b', HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: -1 } } }),
    'invalid restart policy: maximum retry count cannot be negative',
  );
  assert.is(
    refusal({ Image: 'b', HostConfig: { RestartPolicy: { Name: 'always' }, AutoRemove: true } }),
    "can't create 'AutoRemove' container with restart policy",
  );
});

test('StorageOpt is refused naming the setting; named volumes and Mounts are carried out', () => {
  assert.equal(
    refuseUnsupportedSettings({ Image: 'b', HostConfig: { Mounts: [{ Type: 'bind', Source: '/tmp', Target: '/t' }] } }, onPrivateNetwork),
    [],
  );
  assert.is(
    refusal({ Image: 'b', HostConfig: { StorageOpt: { size: '1G' } } }, { hostNetwork: false, storageDriver: 'overlay' }),
    'HostConfig.StorageOpt: size limits are not supported by the overlay storage driver',
  );
  assert.is(
    refusal({ Image: 'b', HostConfig: { StorageOpt: { size: '1G' } } }),
    "HostConfig.StorageOpt: size limits are not supported by berth's storage drivers",
  );
  // Bind mounts, named and anonymous volumes are carried out.
  assert.equal(
    refuseUnsupportedSettings({ Image: 'b', HostConfig: { Binds: ['/tmp:/t:ro', '/anon', 'data:/data:ro'] } }, onPrivateNetwork),
    [],
  );
});

test('each setting berth does not carry out is refused by name', () => {
  const cases: Array<[ContainerCreateBody, RegExp]> = [
    [{ Domainname: 'example.com' }, /^Domainname is not supported/],
    [{ Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 10 } }, /^Interval in Healthcheck cannot be less than 1ms/],
    [{ HostConfig: { Init: true } }, /^HostConfig\.Init is not supported by berth yet: it has no init process/],
    [{ HostConfig: { BlkioWeight: 300 } }, /^HostConfig\.BlkioWeight is not supported/],
    [{ HostConfig: { BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1 }] } }, /^HostConfig\.BlkioDeviceReadBps is not supported/],
    [{ HostConfig: { CpusetMems: '0' } }, /^HostConfig\.CpusetMems is not supported/],
    [{ HostConfig: { DeviceRequests: [{ Count: -1 }] } }, /^HostConfig\.DeviceRequests is not supported/],
    [{ HostConfig: { DeviceCgroupRules: ['c 1:3 rwm'] } }, /^HostConfig\.DeviceCgroupRules is not supported/],
    [{ HostConfig: { MemorySwappiness: 10 } }, /^HostConfig\.MemorySwappiness is not supported/],
    [{ HostConfig: { MemorySwappiness: 101 } }, /valid memory swappiness range is 0-100/],
    [{ HostConfig: { CpuCount: 2 } }, /^HostConfig\.CpuCount is supported on Windows only/],
    [{ HostConfig: { UsernsMode: 'private' } }, /^HostConfig\.UsernsMode "private" is not supported/],
    [{ HostConfig: { Isolation: 'hyperv' } }, /^invalid HostConfig\.Isolation/],
    [
      { HostConfig: { LogConfig: { Type: 'syslog' } } },
      /^HostConfig\.LogConfig\.Type "syslog" is not supported by berth yet: only "json-file" and "none"/,
    ],
    [{ HostConfig: { LogConfig: { Type: 'local' } } }, /^HostConfig\.LogConfig\.Type "local" is not supported by berth yet/],
    [{ HostConfig: { LogConfig: { Type: 'nosuch' } } }, /^logger: no log driver named 'nosuch' is registered$/],
    [{ HostConfig: { LogConfig: { Type: 'json-file', Config: { labels: 'a' } } } }, /^unknown log opt 'labels' for json-file log driver$/],
    [{ HostConfig: { LogConfig: { Type: 'json-file', Config: { compress: 'true' } } } }, /^log opt 'compress' is not supported/],
    [{ HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-file': '3' } } } }, /^max-file cannot be set without max-size$/],
    [{ HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': 'lots' } } } }, /^invalid size: 'lots'$/],
    [
      { HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '0' } } } },
      /^max-file cannot be less than 1$/,
    ],
    [{ HostConfig: { LogConfig: { Type: 'none', Config: { 'max-size': '1m' } } } }, /^unknown log opt 'max-size' for none log driver$/],
    [
      { HostConfig: { PortBindings: { '80/sctp': [{ HostPort: '8080' }] } } },
      /^invalid port "80\/sctp": publishing sctp ports is not supported/,
    ],
    [{ HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '::', HostPort: '8080' }] } } }, /publishing on IPv6 is not supported/],
    [{ HostConfig: { OomScoreAdj: 1001 } }, /range for oom score adj is \[-1000, 1000\]/],
    [{ HostConfig: { CgroupnsMode: 'shared' } }, /^invalid HostConfig\.CgroupnsMode/],
    [
      { NetworkingConfig: { EndpointsConfig: { default: { DriverOpts: { 'com.example.x': '1' } } } } },
      /^NetworkingConfig\.EndpointsConfig\.default\.DriverOpts is not supported/,
    ],
    [
      { NetworkingConfig: { EndpointsConfig: { b: { IPAMConfig: { IPv6Address: 'fd00::2' } } } } },
      /^NetworkingConfig\.EndpointsConfig\.b\.IPAMConfig\.IPv6Address is not supported/,
    ],
  ];
  for (const [body, message] of cases) assert.match(refusal({ Image: 'b', ...body }), message);
});

test('addresses, MACs, --dns* and --add-host are carried out on a private network; --mac-address and --ip conflict with the host network', () => {
  const asked: ContainerCreateBody = {
    Image: 'b',
    MacAddress: '02:42:ac:11:00:02',
    HostConfig: { Dns: ['1.1.1.1'], DnsSearch: ['lan'], DnsOptions: ['ndots:2'], ExtraHosts: ['a:1.2.3.4'] },
    NetworkingConfig: { EndpointsConfig: { n: { IPAMConfig: { IPv4Address: '10.1.0.5' } } } },
  };
  assert.equal(refuseUnsupportedSettings(asked, { hostNetwork: false }), []);
  assert.match(
    refusal({ Image: 'b', MacAddress: '02:42:ac:11:00:02' }, { hostNetwork: true }),
    /^conflicting options: mac-address and the network mode/,
  );
  assert.match(
    refusal(
      { Image: 'b', NetworkingConfig: { EndpointsConfig: { host: { IPAMConfig: { IPv4Address: '10.1.0.5' } } } } },
      { hostNetwork: true },
    ),
    /^conflicting options: --ip and --mac-address need a network with addresses/,
  );
});

test('on the host network published ports are discarded with a warning, as dockerd does; NetworkDisabled conflicts', () => {
  const body: ContainerCreateBody = { Image: 'b', HostConfig: { NetworkMode: 'host', PortBindings: { '80/tcp': [{ HostPort: '8080' }] } } };
  assert.equal(refuseUnsupportedSettings(body, { hostNetwork: true }), ['Published ports are discarded when using host network mode']);
  assert.match(refusal({ Image: 'b', NetworkDisabled: true }, { hostNetwork: true }), /^Conflicting options: NetworkDisabled/);
  assert.equal(refuseUnsupportedSettings({ Image: 'b', NetworkDisabled: true }, onPrivateNetwork), []);
});

test.run();
