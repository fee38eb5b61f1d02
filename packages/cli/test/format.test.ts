import type { ContainerSummary, ImageSummary, PluginStatus, VersionInfo } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatImages } from '../src/commands/images.js';
import { inspectFormatted, inspectJson } from '../src/commands/inspect.js';
import { formatContainers } from '../src/commands/ps.js';
import { type ClientVersion, formatInfo, formatPlugins, formatVersion } from '../src/commands/system.js';
import { displayablePorts } from '../src/format/ports.js';

const NOW = 1795378400_000;

function container(over: Partial<ContainerSummary>): ContainerSummary {
  return {
    Id: '',
    Names: [],
    Image: 'busybox',
    ImageID: `sha256:01e7ee02ed05${'0'.repeat(52)}`,
    Command: '',
    Created: 0,
    Ports: [],
    Labels: {},
    State: 'running',
    Status: '',
    HostConfig: { NetworkMode: 'default' },
    NetworkSettings: { Networks: {} },
    Mounts: [],
    ...over,
  };
}

const containers = [
  container({
    Id: `ae6d7c5f0a1b${'f'.repeat(52)}`,
    Names: ['/trc-web'],
    Command: 'httpd -f -p 80',
    Created: 1795378301,
    Ports: [
      { IP: '::', PrivatePort: 80, PublicPort: 28081, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 28081, Type: 'tcp' },
    ],
    Status: 'Up About a minute',
    Labels: { 'com.example': 'yes', a: 'b' },
    NetworkSettings: { Networks: { bridge: {} as never } },
  }),
  container({
    Id: `b05d841a6c2e${'e'.repeat(52)}`,
    Names: ['/sleepy'],
    Command: "sh -c 'while true; do sleep 1; done'",
    Created: 1795378395,
    Ports: [
      { PrivatePort: 9001, Type: 'tcp' },
      { PrivatePort: 9000, Type: 'tcp' },
    ],
    State: 'exited',
    Status: 'Exited (3) 2 seconds ago',
  }),
];

test('ps: the default table, exactly as docker lays it out', () => {
  assert.is(
    formatContainers(containers, { nowMs: NOW }),
    [
      'CONTAINER ID   IMAGE     COMMAND                  CREATED              STATUS                     PORTS                                       NAMES',
      'ae6d7c5f0a1b   busybox   "httpd -f -p 80"         About a minute ago   Up About a minute          0.0.0.0:28081->80/tcp, [::]:28081->80/tcp   trc-web',
      'b05d841a6c2e   busybox   "sh -c \'while true; …"   5 seconds ago        Exited (3) 2 seconds ago   9000-9001/tcp                               sleepy',
      '',
    ].join('\n'),
  );
});

test('ps -q, --no-trunc, and an empty list', () => {
  assert.is(formatContainers(containers, { quiet: true, nowMs: NOW }), 'ae6d7c5f0a1b\nb05d841a6c2e\n');
  assert.is(formatContainers(containers, { quiet: true, noTrunc: true, nowMs: NOW }).split('\n')[0]!.length, 64);
  const full = formatContainers(containers, { noTrunc: true, nowMs: NOW });
  assert.ok(full.includes(`"sh -c 'while true; do sleep 1; done'"`));
  assert.is(formatContainers([], { nowMs: NOW }), 'CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n');
});

test('ps --format: template, table template, json', () => {
  assert.is(formatContainers(containers, { format: '{{.ID}} {{.Names}}', nowMs: NOW }), 'ae6d7c5f0a1b trc-web\nb05d841a6c2e sleepy\n');
  assert.is(
    formatContainers(containers, { format: 'table {{.ID}}\\t{{.Names}}\\t{{.Label "com.example"}}', nowMs: NOW }),
    'CONTAINER ID   NAMES     COM.EXAMPLE\nae6d7c5f0a1b   trc-web   yes\nb05d841a6c2e   sleepy    \n',
  );
  const lines = formatContainers(containers, { format: 'json', nowMs: NOW }).trim().split('\n');
  assert.is(lines.length, 2);
  const first = JSON.parse(lines[0]!);
  assert.equal(Object.keys(first), [
    'Command',
    'CreatedAt',
    'ID',
    'Image',
    'Labels',
    'LocalVolumes',
    'Mounts',
    'Names',
    'Networks',
    'Ports',
    'RunningFor',
    'Size',
    'State',
    'Status',
  ]);
  assert.is(first.Command, '"httpd -f -p 80"');
  assert.is(first.Labels, 'a=b,com.example=yes');
  assert.is(first.Networks, 'bridge');
  assert.is(first.RunningFor, 'About a minute ago');
  assert.match(first.CreatedAt, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \S+$/);
});

test('ports: ranges per address, mappings after, docker order', () => {
  assert.is(displayablePorts([{ PrivatePort: 80, Type: 'tcp' }]), '80/tcp');
  assert.is(
    displayablePorts([
      { IP: '0.0.0.0', PrivatePort: 8081, PublicPort: 8081, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 8080, PublicPort: 8080, Type: 'tcp' },
    ]),
    '0.0.0.0:8080-8081->8080-8081/tcp',
  );
  assert.is(
    displayablePorts([
      { PrivatePort: 53, Type: 'udp' },
      { PrivatePort: 83, Type: 'tcp' },
      { PrivatePort: 80, Type: 'tcp' },
      { PrivatePort: 81, Type: 'tcp' },
    ]),
    '80-81/tcp, 53/udp, 83/tcp',
  );
  assert.is(displayablePorts(null), '');
});

const images: ImageSummary[] = [
  {
    Id: `sha256:01e7ee02ed05${'1'.repeat(52)}`,
    ParentId: '',
    RepoTags: ['busybox:latest', 'docker.io/trc/busybox:v1'],
    RepoDigests: null,
    Created: NOW / 1000 - 15 * 24 * 3600,
    Size: 1984172,
    VirtualSize: 1984172,
    SharedSize: -1,
    Labels: null,
    Containers: -1,
  },
  {
    Id: `sha256:5f3e0a9b1c2d${'2'.repeat(52)}`,
    ParentId: '',
    RepoTags: null,
    RepoDigests: null,
    Created: NOW / 1000 - 3600,
    Size: 0,
    VirtualSize: 0,
    SharedSize: -1,
    Labels: null,
    Containers: -1,
  },
];

test('images: the default table, one row per tag, dangling as <none>', () => {
  assert.is(
    formatImages(images, { nowMs: NOW }),
    [
      'REPOSITORY    TAG       IMAGE ID       CREATED             SIZE',
      'busybox       latest    01e7ee02ed05   2 weeks ago         1.98MB',
      'trc/busybox   v1        01e7ee02ed05   2 weeks ago         1.98MB',
      '<none>        <none>    5f3e0a9b1c2d   About an hour ago   0B',
      '',
    ].join('\n'),
  );
});

test('images -q (unique ids), --no-trunc, --format', () => {
  assert.is(formatImages(images, { quiet: true, nowMs: NOW }), '01e7ee02ed05\n5f3e0a9b1c2d\n');
  assert.ok(formatImages(images, { noTrunc: true, nowMs: NOW }).includes(`sha256:01e7ee02ed05${'1'.repeat(52)}`));
  assert.is(
    formatImages(images, { format: '{{.Repository}}:{{.Tag}} {{.Size}}', nowMs: NOW }),
    'busybox:latest 1.98MB\ntrc/busybox:v1 1.98MB\n<none>:<none> 0B\n',
  );
  const json = JSON.parse(formatImages(images, { format: 'json', nowMs: NOW }).split('\n')[0]!);
  assert.is(json.Containers, 'N/A');
  assert.is(json.Size, '1.98MB');
});

test('plugins ls: KIND NAME STATUS REASON', () => {
  const plugins: PluginStatus[] = [
    { kind: 'storage', name: 'overlay', status: 'ok', reason: '', description: 'overlayfs' },
    { kind: 'runtime', name: 'crun', status: 'skipped', reason: 'cgroups in hybrid mode not supported', description: '' },
  ];
  assert.is(
    formatPlugins(plugins),
    'KIND      NAME      STATUS    REASON\nstorage   overlay   ok        \nruntime   crun      skipped   cgroups in hybrid mode not supported\n',
  );
  assert.is(formatPlugins(plugins, '{{.Name}}={{.Status}}'), 'overlay=ok\ncrun=skipped\n');
});

test('version: client and server blocks aligned like docker', () => {
  const client: ClientVersion = {
    Platform: { Name: 'berth' },
    Version: '0.1.0',
    ApiVersion: '1.41',
    DefaultAPIVersion: '1.41',
    NodeVersion: 'v24.21.0',
    Os: 'linux',
    Arch: 'amd64',
    Context: 'default',
  };
  const server = {
    Platform: { Name: 'berth' },
    Version: '0.1.0',
    ApiVersion: '1.41',
    MinAPIVersion: '1.12',
    Os: 'linux',
    Arch: 'amd64',
    KernelVersion: '6.1',
    Components: [
      {
        Name: 'Engine',
        Version: '0.1.0',
        Details: { ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64', KernelVersion: '6.1' },
      },
      { Name: 'runc', Version: '1.1.5', Details: { GitCommit: 'abc' } },
    ],
  } as unknown as VersionInfo;
  assert.is(
    formatVersion(client, server),
    [
      'Client: berth',
      ' Version:           0.1.0',
      ' API version:       1.41',
      ' Node version:      v24.21.0',
      ' OS/Arch:           linux/amd64',
      ' Context:           default',
      '',
      'Server: berth',
      ' Engine:',
      '  Version:          0.1.0',
      '  API version:      1.41 (minimum version 1.12)',
      '  OS/Arch:          linux/amd64',
      '  Kernel version:   6.1',
      ' runc:',
      '  Version:          1.1.5',
      '  GitCommit:        abc',
      '',
    ].join('\n'),
  );
});

test('info: docker layout, berth plugins, warnings apart', () => {
  const [text, warnings] = formatInfo({
    Containers: 3,
    ContainersRunning: 1,
    ContainersStopped: 2,
    MemTotal: 25276063744,
    SecurityOptions: ['name=seccomp,profile=default'],
    BerthPlugins: [{ kind: 'runtime', name: 'crun', status: 'skipped', reason: 'hybrid cgroups', description: '' }],
    Warnings: ['WARNING: No swap limit support'],
  });
  assert.ok(text.includes('\n Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n'));
  assert.ok(text.includes('\n Total Memory: 23.54GiB\n'));
  assert.ok(text.includes('\n Security Options:\n  seccomp\n   Profile: default\n'));
  assert.ok(text.includes('\n Berth Plugins:\n  runtime crun: skipped (hybrid cgroups)\n'));
  assert.equal(warnings, ['WARNING: No swap limit support']);
});

test('inspect: 4-space JSON array with Go escapes; templates per object', () => {
  assert.is(inspectJson([]), '[]\n');
  assert.is(
    inspectJson([{ Id: 'a', Cmd: ['a<b>&c'] }]),
    '[\n    {\n        "Id": "a",\n        "Cmd": [\n            "a\\u003cb\\u003e\\u0026c"\n        ]\n    }\n]\n',
  );
  assert.is(
    inspectFormatted([{ State: { Status: 'running' } }, { State: { Status: 'exited' } }], '{{.State.Status}}'),
    'running\nexited\n',
  );
  assert.is(inspectFormatted([{ A: 1 }], 'json'), '{"A":1}\n');
});

test.run();
