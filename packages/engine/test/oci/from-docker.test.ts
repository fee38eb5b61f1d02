import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type ContainerCreateBody, isBerthError } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  allCapabilities,
  buildSpec,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_PATH,
  DEFAULT_READONLY_PATHS,
  type DockerSpecRequest,
  type HostFacts,
  type ImageRunConfig,
  specInputFromDocker,
  specToJson,
  volumeMount,
} from '../../src/oci/index.js';
import { allowed } from './seccomp-eval.js';

const ID = 'bspec0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab';
const facts: HostFacts = {
  arch: 'x86_64',
  kernelVersion: [6, 1],
  boundingSet: allCapabilities().filter((c) => c !== 'CAP_SYS_RESOURCE'),
  canRaiseRlimits: false,
  cgroupVersion: 1,
  swapAccounting: true,
  rlimits: { RLIMIT_NOFILE: { soft: 20000, hard: 20000 } },
  cpus: 2,
  hostname: 'the-host',
};
const image: ImageRunConfig = {
  Env: ['PATH=/img/bin', 'LANG=C.UTF-8', 'B=image'],
  Cmd: ['/bin/sh'],
  WorkingDir: '/srv',
  StopSignal: 'SIGQUIT',
};

let root = '';
let dir = '';
test.before(() => {
  dir = mkdtempSync('/tmp/berth-unit-spec-fd-');
  root = path.join(dir, 'rootfs');
  mkdirSync(path.join(root, 'etc'), { recursive: true });
  writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nstaff:x:50:nobody\n');
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

const etcFiles = { hostname: '/run/x/hostname', hosts: '/run/x/hosts', resolvConf: '/run/x/resolv.conf' };
function run(body: ContainerCreateBody, more: Partial<DockerSpecRequest> = {}) {
  return specInputFromDocker({ id: ID, body, image, rootfsPath: root, etcFiles, networkMode: 'private', host: facts, ...more });
}
async function rejects(p: Promise<unknown>, check: (e: Error) => boolean, what: string) {
  try {
    await p;
  } catch (e) {
    assert.ok(check(e as Error), `${what}: ${(e as Error).message}`);
    return;
  }
  assert.unreachable(`${what}: expected an error`);
}

test('a plain request: Docker defaults throughout', async () => {
  const { input, warnings, volumes, stopSignal } = await run({ Cmd: ['echo', 'hi'] });
  const spec = buildSpec(input);
  assert.equal(warnings, []);
  assert.equal(volumes, []);
  assert.is(stopSignal, 'SIGQUIT');
  assert.equal(spec.process.args, ['echo', 'hi']);
  assert.is(spec.process.cwd, '/srv');
  assert.equal(spec.process.user, { uid: 0, gid: 0 });
  assert.is(spec.hostname, ID.slice(0, 12));
  assert.equal(spec.process.env, ['PATH=/img/bin', `HOSTNAME=${ID.slice(0, 12)}`, 'LANG=C.UTF-8', 'B=image', 'HOME=/root']);
  assert.is(spec.process.terminal, false);
  assert.is(spec.process.noNewPrivileges, true);
  assert.equal(spec.process.capabilities.bounding, [...DEFAULT_CAPABILITIES]);
  assert.equal(spec.process.capabilities.inheritable, []);
  assert.equal(spec.process.capabilities.ambient, []);
  assert.equal(spec.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 }]);
  assert.equal(spec.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.is(spec.linux.cgroupsPath, `/berth/${ID}`);
  assert.equal(spec.linux.maskedPaths, [...DEFAULT_MASKED_PATHS]);
  assert.equal(spec.linux.readonlyPaths, [...DEFAULT_READONLY_PATHS]);
  assert.ok(spec.linux.seccomp && !allowed(spec.linux.seccomp, 'mount') && allowed(spec.linux.seccomp, 'read'));
  assert.is(spec.root.readonly, false);
  assert.is(spec.root.path, root);
  const etc = spec.mounts.filter((m) => m.destination.startsWith('/etc/')).map((m) => [m.destination, m.source]);
  assert.equal(etc, [
    ['/etc/resolv.conf', etcFiles.resolvConf],
    ['/etc/hostname', etcFiles.hostname],
    ['/etc/hosts', etcFiles.hosts],
  ]);
  assert.is(spec.ociVersion, '1.0.2-dev');
  assert.is(JSON.parse(specToJson(spec)).process.args[0], 'echo');
});

test("command: Docker's Entrypoint/Cmd rules", async () => {
  const img: ImageRunConfig = { Entrypoint: ['/ep'], Cmd: ['default'] };
  const args = async (body: ContainerCreateBody, i: ImageRunConfig = img) => (await run(body, { image: i })).input.args;
  assert.equal(await args({}), ['/ep', 'default']);
  assert.equal(await args({ Cmd: ['x', 'y'] }), ['/ep', 'x', 'y']);
  assert.equal(await args({ Entrypoint: ['/other'] }), ['/other'], 'a request Entrypoint drops the image Cmd');
  assert.equal(await args({ Entrypoint: ['/other'], Cmd: ['z'] }), ['/other', 'z']);
  assert.equal(await args({ Entrypoint: [''] }), ['default'], '--entrypoint "" keeps the image Cmd');
  assert.equal(await args({ Cmd: 'echo hi' }), ['/ep', 'echo hi']);
  assert.equal(await args({ Entrypoint: 'sh' }, {}), ['sh']);
  await rejects(run({}, { image: {} }), (e) => isBerthError(e, 'InvalidArgument') && e.message === 'no command specified', 'no command');
  await rejects(
    run({ Entrypoint: [''] }, { image: { Entrypoint: ['/ep'] } }),
    (e) => e.message === 'no command specified',
    'cleared entrypoint',
  );
});

test('environment: request overrides image by key; unset form; PATH default; HOSTNAME', async () => {
  const { input } = await run({ Cmd: ['true'], Env: ['B=req', 'C=new', 'LANG'] });
  assert.equal(input.env, ['PATH=/img/bin', `HOSTNAME=${ID.slice(0, 12)}`, 'B=req', 'C=new', 'HOME=/root']);
  const bare = await run({ Cmd: ['true'], Hostname: 'web' }, { image: {} });
  assert.equal(bare.input.env, [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=web', 'HOME=/root']);
  const home = await run({ Cmd: ['true'], Env: ['HOME=/h'] });
  assert.ok(home.input.env.includes('HOME=/h') && !home.input.env.includes('HOME=/root'));
  await rejects(
    run({ Cmd: ['true'], Env: ['=x'] }),
    (e) => isBerthError(e, 'InvalidArgument') && /invalid environment variable/.test(e.message),
    'empty key',
  );
});

test('working directory and user', async () => {
  assert.is((await run({ Cmd: ['true'] }, { image: {} })).input.cwd, '/');
  assert.is((await run({ Cmd: ['true'], WorkingDir: '/a/../b/' })).input.cwd, '/b/');
  await rejects(
    run({ Cmd: ['true'], WorkingDir: 'rel' }),
    (e) => e.message === "the working directory 'rel' is invalid, it needs to be an absolute path",
    'relative',
  );
  const nobody = await run({ Cmd: ['true'], User: 'nobody', HostConfig: { GroupAdd: ['root'] } });
  assert.equal(nobody.input.user, { uid: 65534, gid: 65534, additionalGids: [50, 0] });
  assert.ok(nobody.input.env.includes('HOME=/nonexistent'));
  const fromImage = await run({ Cmd: ['true'] }, { image: { User: '1000:1000' } });
  assert.equal(fromImage.input.user, { uid: 1000, gid: 1000, additionalGids: [] });
  await rejects(
    run({ Cmd: ['true'], User: 'nobody2' }),
    (e) => e.message === 'unable to find user nobody2: no matching entries in passwd file',
    'unknown user',
  );
});

test("network host: no network namespace, the host's hostname, no net.* sysctls", async () => {
  const { input } = await run({ Cmd: ['true'] }, { networkMode: 'host' });
  assert.not.ok(input.namespaces.some((n) => n.type === 'network'));
  assert.is(input.hostname, 'the-host');
  await rejects(
    run({ Cmd: ['true'], HostConfig: { Sysctls: { 'net.core.somaxconn': '1024' } } }, { networkMode: 'host' }),
    (e) => /host's network namespace/.test(e.message),
    'net sysctl',
  );
  const priv = await run({ Cmd: ['true'], HostConfig: { Sysctls: { 'net.core.somaxconn': '1024' } } });
  assert.equal(priv.input.sysctl, { 'net.core.somaxconn': '1024' });
});

test('namespace modes and cgroup v2', async () => {
  const host = await run({ Cmd: ['true'], HostConfig: { PidMode: 'host', IpcMode: 'host', UTSMode: 'host' } });
  assert.equal(host.input.namespaces.map((n) => n.type).sort(), ['mount', 'network']);
  assert.is(host.input.hostname, undefined);
  assert.ok(!host.input.env.some((e) => e.startsWith('HOSTNAME=')));
  assert.is(host.input.systemMounts.find((m) => m.destination === '/dev/shm')?.source, '/dev/shm');
  await rejects(
    run({ Cmd: ['true'], Hostname: 'x', HostConfig: { UTSMode: 'host' } }),
    (e) => e.message === 'Conflicting options: hostname and the UTS mode',
    'uts',
  );
  await rejects(
    run({ Cmd: ['true'], HostConfig: { PidMode: 'container:abc' } }),
    (e) => isBerthError(e, 'InvalidArgument') && e.message.startsWith('HostConfig.PidMode "container:abc" is not supported by berth yet'),
    'container: mode',
  );
  await rejects(run({ Cmd: ['true'], HostConfig: { IpcMode: 'weird' } }), (e) => isBerthError(e, 'InvalidArgument'), 'bad mode');
  const v2 = await run({ Cmd: ['true'] }, { host: { ...facts, cgroupVersion: 2 } });
  assert.ok(v2.input.namespaces.some((n) => n.type === 'cgroup'));
  assert.is(v2.input.systemMounts.find((m) => m.destination === '/sys/fs/cgroup')?.type, 'cgroup2');
});

test('privileged: every host capability, no seccomp, no masked paths, all devices, /sys writable', async () => {
  const { input } = await run({ Cmd: ['true'], HostConfig: { Privileged: true } });
  assert.equal(input.capabilities, facts.boundingSet);
  assert.not.ok(input.capabilities.includes('CAP_SYS_RESOURCE'));
  assert.is(input.seccomp, undefined);
  assert.equal(input.maskedPaths, []);
  assert.equal(input.readonlyPaths, []);
  assert.equal(input.resources.devices, [{ allow: true, access: 'rwm' }]);
  assert.ok(input.systemMounts.find((m) => m.destination === '/sys')?.options.includes('rw'));
  assert.is(input.noNewPrivileges, false);
});

test('security options', async () => {
  const opt = (SecurityOpt: string[]) => run({ Cmd: ['true'], HostConfig: { SecurityOpt } });
  assert.is((await opt(['no-new-privileges=false'])).input.noNewPrivileges, false);
  assert.is((await opt(['no-new-privileges:true'])).input.noNewPrivileges, true);
  assert.is((await opt(['seccomp=unconfined'])).input.seccomp, undefined);
  assert.is((await opt(['seccomp:unconfined'])).input.seccomp, undefined);
  const inline = await opt([
    `seccomp=${JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] })}`,
  ]);
  assert.is(inline.input.seccomp?.defaultAction, 'SCMP_ACT_ALLOW');
  const paths = await opt(['systempaths=unconfined']);
  assert.equal([paths.input.maskedPaths, paths.input.readonlyPaths], [[], []]);
  const lsm = await opt(['apparmor=docker-default', 'label:disable']);
  assert.is(lsm.warnings.length, 2);
  assert.match(lsm.warnings[0] as string, /apparmor=docker-default ignored/);
  await rejects(opt(['bogus']), (e) => isBerthError(e, 'InvalidArgument') && e.message === 'invalid --security-opt: "bogus"', 'bogus');
  await rejects(opt(['no-new-privileges=maybe']), (e) => e.message === 'invalid --security-opt: "no-new-privileges=maybe"', 'nnp value');
  await rejects(opt(['seccomp={broken']), (e) => /^seccomp profile inline profile: not valid JSON/.test(e.message), 'bad profile');
  const priv = await run({ Cmd: ['true'], HostConfig: { Privileged: true, SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'] } });
  assert.is(priv.input.seccomp, undefined);
  assert.is(priv.warnings.length, 1);
});

test('capabilities from the request', async () => {
  const { input } = await run({ Cmd: ['true'], HostConfig: { CapAdd: ['NET_ADMIN'], CapDrop: ['chown'] } });
  assert.ok(input.capabilities.includes('CAP_NET_ADMIN'));
  assert.not.ok(input.capabilities.includes('CAP_CHOWN'));
  await rejects(
    run({ Cmd: ['true'], HostConfig: { CapAdd: ['FOO'] } }),
    (e) => e.message === 'unknown capability: "CAP_FOO"',
    'unknown cap',
  );
  const admin = await run({ Cmd: ['true'], HostConfig: { CapAdd: ['SYS_ADMIN'] } });
  assert.ok(admin.input.seccomp && allowed(admin.input.seccomp, 'mount'), 'the profile follows the capabilities');
});

test('read-only rootfs: root and /etc files read-only; tmpfs mounts stay writable', async () => {
  const { input } = await run({ Cmd: ['true'], HostConfig: { ReadonlyRootfs: true, Tmpfs: { '/tmp': 'size=1m' } } });
  assert.is(input.readonlyRootfs, true);
  for (const m of input.mounts.filter((x) => x.destination.startsWith('/etc/'))) assert.ok(m.options.includes('ro'), m.destination);
  assert.not.ok(input.mounts.find((m) => m.destination === '/tmp')?.options.includes('ro'));
});

test('terminal policy: a real terminal by default, with ConsoleSize as its first size', async () => {
  const byDefault = await run({ Cmd: ['true'], Tty: true, HostConfig: { ConsoleSize: [33, 91] } });
  assert.is(byDefault.input.terminal, true);
  assert.equal(byDefault.warnings, []);
  assert.equal(buildSpec(byDefault.input).process.consoleSize, { height: 33, width: 91 });
  const noSize = await run({ Cmd: ['true'], Tty: true, HostConfig: { ConsoleSize: [0, 0] } });
  assert.is(buildSpec(noSize.input).process.consoleSize, undefined, '[0, 0]: the client has no terminal');
  const warn = await run({ Cmd: ['true'], Tty: true }, { tty: 'warn' });
  assert.is(warn.input.terminal, false);
  assert.match(warn.warnings.join('\n'), /Tty ignored/);
  assert.not.ok(warn.input.env.includes('TERM=xterm'));
  const allow = await run({ Cmd: ['true'], Tty: true }, { tty: 'allow' });
  assert.is(allow.input.terminal, true);
  assert.ok(allow.input.env.includes('TERM=xterm'));
  await rejects(run({ Cmd: ['true'], Tty: true }, { tty: 'reject' }), (e) => isBerthError(e, 'NotImplemented'), 'reject');
});

test('OomScoreAdj reaches the process; CgroupnsMode chooses the cgroup namespace', async () => {
  const { input } = await run({ Cmd: ['true'], HostConfig: { OomScoreAdj: -500 } });
  assert.is(buildSpec(input).process.oomScoreAdj, -500);
  const hasCgroupns = async (mode: string, cgroupVersion: 1 | 2) =>
    (await run({ Cmd: ['true'], HostConfig: { CgroupnsMode: mode } }, { host: { ...facts, cgroupVersion } })).input.namespaces.some(
      (n) => n.type === 'cgroup',
    );
  assert.equal(
    [await hasCgroupns('', 1), await hasCgroupns('', 2), await hasCgroupns('private', 1), await hasCgroupns('host', 2)],
    [false, true, true, false],
  );
});

test("--volume-driver (HostConfig.VolumeDriver) is the driver of -v's and VOLUME's volumes; --mount keeps its own volume-driver", async () => {
  const { volumes } = await run(
    {
      Cmd: ['true'],
      Volumes: { '/anon': {} },
      HostConfig: {
        VolumeDriver: 'pyvol',
        Binds: ['data:/data'],
        Mounts: [{ Type: 'volume', Source: 'mv', Target: '/m', VolumeOptions: { DriverConfig: { Name: 'other', Options: { k: 'v' } } } }],
      },
    },
    { image: { ...image, Volumes: { '/var/lib/x': {} } } },
  );
  assert.equal(
    volumes.map((v) => [v.name, v.destination, v.driver, v.driverOptions]),
    [
      ['data', '/data', 'pyvol', undefined],
      ['mv', '/m', 'other', { k: 'v' }],
      ['', '/anon', 'pyvol', undefined],
      ['', '/var/lib/x', 'pyvol', undefined],
    ],
  );
});

test('binds, volumes and anonymous volumes', async () => {
  const { input, volumes } = await run(
    { Cmd: ['true'], Volumes: { '/anon': {} }, HostConfig: { Binds: [`${dir}:/host:ro`, 'data:/data', '/etc/hosts-override:/etc/hosts'] } },
    {
      image: { ...image, Volumes: { '/data': {}, '/var/lib/x': {} } },
      pathExists: (p) => p === dir || p === '/etc/hosts-override',
    },
  );
  assert.equal(
    input.mounts.find((m) => m.destination === '/host'),
    { destination: '/host', type: 'bind', source: dir, options: ['rbind', 'ro', 'rprivate'] },
  );
  assert.equal(
    volumes.map((v) => [v.name, v.destination]),
    [
      ['data', '/data'],
      ['', '/anon'],
      ['', '/var/lib/x'],
    ],
  );
  assert.equal(
    input.mounts.filter((m) => m.destination === '/etc/hosts').map((m) => m.source),
    ['/etc/hosts-override'],
    'a user bind replaces the engine file',
  );
  input.mounts.push(volumeMount(volumes[0] as never, '/vol/data'));
  assert.ok(buildSpec(input).mounts.some((m) => m.destination === '/data' && m.source === '/vol/data'));
  // -v of a missing host path makes it, as dockerd does (and binds it).
  const made: string[] = [];
  const missing = await run(
    { Cmd: ['true'], HostConfig: { Binds: ['/no/such/dir:/x'] } },
    { pathExists: () => false, makeDirectory: (p) => made.push(p) },
  );
  assert.equal(made, ['/no/such/dir']);
  assert.ok(missing.input.mounts.some((m) => m.destination === '/x' && m.source === '/no/such/dir'));
  await rejects(
    run({ Cmd: ['true'], HostConfig: { Binds: [`${dir}:/x`, 'v1:/x'] } }),
    (e) => /Duplicate mount point: \/x/.test(e.message),
    'duplicate',
  );
});

test('resources, limits and cgroup parent', async () => {
  const { input, warnings } = await run({
    Cmd: ['true'],
    HostConfig: {
      Memory: 64 << 20,
      PidsLimit: 50,
      NanoCpus: 5e8,
      Ulimits: [{ Name: 'nproc', Soft: 10, Hard: 20 }],
      CgroupParent: 'tenants/a',
    },
  });
  assert.equal(warnings, []);
  assert.equal(input.resources.memory, { limit: 64 << 20, swap: 128 << 20 });
  assert.equal(input.resources.pids, { limit: 50 });
  assert.equal(input.resources.cpu, { period: 100000, quota: 50000 });
  assert.equal(input.rlimits[1], { type: 'RLIMIT_NPROC', hard: 20, soft: 10 });
  assert.is(input.cgroupsPath, `/tenants/a/${ID}`);
  assert.is((await run({ Cmd: ['true'], HostConfig: { CgroupParent: 'x' } }, { cgroupParent: 'bspec' })).input.cgroupsPath, `/bspec/${ID}`);
  await rejects(
    run({ Cmd: ['true'], HostConfig: { Memory: 1 << 20 } }),
    (e) => e.message === 'Minimum memory limit allowed is 6MB',
    'memory',
  );
});

test('--device: node created and allowed in the devices cgroup', async () => {
  const stat = (p: string) => {
    if (p !== '/dev/fuse') throw new Error('no such file or directory');
    return { type: 'c' as const, major: 10, minor: 229, mode: 0o666, uid: 0, gid: 0 };
  };
  const { input } = await run(
    { Cmd: ['true'], HostConfig: { Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '', CgroupPermissions: 'rw' }] } },
    { statDevice: stat },
  );
  assert.equal(input.devices, [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }]);
  assert.equal(input.resources.devices.at(-1), { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' });
  await rejects(
    run(
      { Cmd: ['true'], HostConfig: { Devices: [{ PathOnHost: '/dev/nope', PathInContainer: '', CgroupPermissions: '' }] } },
      { statDevice: stat },
    ),
    (e) => e.message === 'error gathering device information while adding custom device "/dev/nope": no such file or directory',
    'missing device',
  );
  await rejects(
    run(
      { Cmd: ['true'], HostConfig: { Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '', CgroupPermissions: 'rwx' }] } },
      { statDevice: stat },
    ),
    (e) => /invalid device permissions/.test(e.message),
    'bad perms',
  );
});

test('hostname validation', async () => {
  await rejects(
    run({ Cmd: ['true'], Hostname: 'bad_host-' }),
    (e) => e.message === 'invalid hostname format: "bad_host-"',
    'trailing dash',
  );
  await rejects(run({ Cmd: ['true'], Hostname: 'a'.repeat(65) }), (e) => /invalid hostname format/.test(e.message), 'too long');
  assert.is((await run({ Cmd: ['true'], Hostname: 'web-1.example' })).input.hostname, 'web-1.example');
});

test('buildSpec refuses what the runtime would fail on later', () => {
  const base = {
    rootfsPath: '/r',
    readonlyRootfs: false,
    args: ['true'],
    env: [],
    cwd: '/',
    user: { uid: 0, gid: 0 },
    terminal: false,
    capabilities: [],
    noNewPrivileges: true,
    rlimits: [],
    namespaces: [],
    systemMounts: [],
    mounts: [],
    resources: { devices: [] },
    cgroupsPath: '/x',
    maskedPaths: [],
    readonlyPaths: [],
    sysctl: {},
    devices: [],
  };
  assert.throws(() => buildSpec({ ...base, args: [] }), /no command specified/);
  assert.throws(() => buildSpec({ ...base, cwd: 'x' }), /needs to be an absolute path/);
  assert.throws(
    () => buildSpec({ ...base, mounts: [{ destination: 'x', type: 'bind', source: '/', options: [] }] }),
    /invalid mount destination 'x'/,
  );
  const spec = buildSpec({ ...base, rlimits: [{ type: 'RLIMIT_CORE', hard: 18446744073709551615n, soft: 0 }] });
  assert.match(specToJson(spec), /"hard": 18446744073709551615,/);
  // Strings that look like numbers or markers stay strings.
  const tricky = buildSpec({ ...base, env: ['A=__berth_bigint__5', '__berth_bigint__7'] });
  assert.equal(JSON.parse(specToJson(tricky)).process.env, ['A=__berth_bigint__5', '__berth_bigint__7']);
});

test.run();
