import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isBerthError } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  buildResources,
  buildRlimits,
  cgroupsPathFor,
  checkSysctls,
  DEFAULT_DEVICE_RULES,
  detectCgroupVersion,
  detectSwapAccounting,
  parseCpuList,
  parseKernelVersion,
  parseProcLimits,
  type ResourceHost,
  RLIM_INFINITY,
} from '../../src/oci/index.js';

const MiB = 1024 * 1024;
const v1: ResourceHost = { cgroupVersion: 1, swapAccounting: true, cpus: 2 };
const invalid = (fn: () => unknown, message: string) =>
  assert.throws(fn, (e: Error) => isBerthError(e, 'InvalidArgument') && e.message === message, message);

test('memory: Docker minimum of 6 MiB', () => {
  invalid(() => buildResources({ Memory: 4 * MiB }, v1), 'Minimum memory limit allowed is 6MB');
  invalid(() => buildResources({ MemoryReservation: 1 * MiB }, v1), 'Minimum memory reservation allowed is 6MB');
  assert.is(buildResources({ Memory: 6 * MiB }, v1).resources.memory?.limit, 6 * MiB);
});

test('memory: swap defaults to twice the memory when swap accounting exists', () => {
  const r = buildResources({ Memory: 64 * MiB }, v1);
  assert.equal(r.resources.memory, { limit: 64 * MiB, swap: 128 * MiB });
  assert.equal(r.warnings, []);
  assert.equal(buildResources({ Memory: 64 * MiB, MemorySwap: -1 }, v1).resources.memory?.swap, -1);
  assert.equal(buildResources({ Memory: 64 * MiB, MemorySwap: 100 * MiB }, v1).resources.memory?.swap, 100 * MiB);
});

test("memory: no swap accounting → no swap limit and Docker's warning", () => {
  const r = buildResources({ Memory: 64 * MiB }, { ...v1, swapAccounting: false });
  assert.equal(r.resources.memory, { limit: 64 * MiB });
  assert.equal(r.warnings, [
    'Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.',
  ]);
});

test('memory: swap and reservation consistency', () => {
  invalid(
    () => buildResources({ Memory: 64 * MiB, MemorySwap: 32 * MiB }, v1),
    'Minimum memoryswap limit should be larger than memory limit, see usage',
  );
  invalid(
    () => buildResources({ MemorySwap: 64 * MiB }, v1),
    'You should always set the Memory limit when using Memoryswap limit, see usage',
  );
  invalid(
    () => buildResources({ Memory: 64 * MiB, MemoryReservation: 65 * MiB }, v1),
    'Minimum memory limit can not be less than memory reservation limit, see usage',
  );
  assert.equal(buildResources({ MemoryReservation: 32 * MiB }, v1).resources.memory, { reservation: 32 * MiB });
  invalid(() => buildResources({ Memory: -5 }, v1), 'invalid Memory: -5');
});

test('memory: OomKillDisable', () => {
  const r = buildResources({ Memory: 64 * MiB, OomKillDisable: true }, v1);
  assert.is(r.resources.memory?.disableOOMKiller, true);
  assert.equal(r.warnings, []);
  assert.ok(
    buildResources({ OomKillDisable: true }, v1).warnings[0]?.startsWith(
      'OOM killer is disabled for the container, but no memory limit is set',
    ),
  );
  const v2 = buildResources({ Memory: 64 * MiB, OomKillDisable: true }, { ...v1, cgroupVersion: 2 });
  assert.is(v2.resources.memory?.disableOOMKiller, undefined);
  assert.equal(v2.warnings, ['Your kernel does not support OomKillDisable. OomKillDisable discarded.']);
});

test('cpu: NanoCpus → quota over a 100 ms period', () => {
  assert.equal(buildResources({ NanoCpus: 1.5e9 }, v1).resources.cpu, { period: 100000, quota: 150000 });
  assert.equal(buildResources({ NanoCpus: 0.01e9 }, v1).resources.cpu, { period: 100000, quota: 1000 });
  const range = 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available';
  invalid(() => buildResources({ NanoCpus: 3e9 }, v1), range);
  invalid(() => buildResources({ NanoCpus: 1e6 }, v1), range);
  invalid(
    () => buildResources({ NanoCpus: 1e9, CpuPeriod: 50000 }, v1),
    'Conflicting options: Nano CPUs and CPU Period cannot both be set',
  );
  invalid(() => buildResources({ NanoCpus: 1e9, CpuQuota: 50000 }, v1), 'Conflicting options: Nano CPUs and CPU Quota cannot both be set');
});

test('cpu: period, quota, shares, cpuset', () => {
  assert.equal(buildResources({ CpuPeriod: 50000, CpuQuota: 25000, CpuShares: 512, CpusetCpus: '0-1' }, v1).resources.cpu, {
    period: 50000,
    quota: 25000,
    shares: 512,
    cpus: '0-1',
  });
  invalid(
    () => buildResources({ CpuPeriod: 500 }, v1),
    'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)',
  );
  invalid(() => buildResources({ CpuQuota: 500 }, v1), 'CPU cfs quota can not be less than 1ms (i.e. 1000)');
  const low = buildResources({ CpuShares: 1 }, v1);
  assert.is(low.resources.cpu?.shares, 2);
  assert.is(low.warnings.length, 1);
  invalid(() => buildResources({ CpusetCpus: '0-3' }, v1), 'Requested CPUs are not available - requested 0-3, available: 0-1');
  invalid(() => buildResources({ CpusetCpus: 'x' }, v1), 'invalid value "x" for cpuset cpus');
  assert.equal(parseCpuList('0-2,5'), [0, 1, 2, 5]);
  assert.throws(() => parseCpuList('3-1'));
});

test('pids: 0 and -1 are unlimited', () => {
  assert.is(buildResources({ PidsLimit: 0 }, v1).resources.pids, undefined);
  assert.is(buildResources({ PidsLimit: -1 }, v1).resources.pids, undefined);
  assert.is(buildResources({ PidsLimit: null }, v1).resources.pids, undefined);
  assert.equal(buildResources({ PidsLimit: 20 }, v1).resources.pids, { limit: 20 });
});

test('devices: deny all, then the standard devices; privileged allows all; --device rules appended', () => {
  const r = buildResources({}, v1).resources.devices;
  assert.equal(r[0], { allow: false, access: 'rwm' });
  const allows = (major: number, minor: number) =>
    r.some((d) => d.allow && d.type === 'c' && d.major === major && (d.minor === minor || d.minor === undefined) && d.access.includes('r'));
  for (const [major, minor] of [
    [1, 3],
    [1, 5],
    [1, 7],
    [1, 8],
    [1, 9],
    [5, 0],
    [5, 2],
    [10, 200],
    [136, 4],
  ] as const)
    assert.ok(allows(major, minor), `${major}:${minor}`);
  assert.not.ok(allows(10, 229), '/dev/fuse is not allowed by default');
  assert.not.ok(allows(5, 1), '/dev/console of the host is not allowed');
  assert.not.ok(allows(8, 0));
  assert.equal(buildResources({}, v1, { privileged: true }).resources.devices, [{ allow: true, access: 'rwm' }]);
  const extra = { allow: true, type: 'c' as const, major: 10, minor: 229, access: 'rw' };
  assert.equal(buildResources({}, v1, { extraDeviceRules: [extra] }).resources.devices, [...DEFAULT_DEVICE_RULES, extra]);
});

test('cgroups: version and swap accounting detection on fake trees', () => {
  const dir = mkdtempSync('/tmp/berth-unit-spec-cg-');
  try {
    const v1root = path.join(dir, 'v1');
    mkdirSync(path.join(v1root, 'memory'), { recursive: true });
    assert.is(detectCgroupVersion(v1root), 1);
    assert.is(detectSwapAccounting(1, v1root), false);
    writeFileSync(path.join(v1root, 'memory', 'memory.memsw.limit_in_bytes'), '');
    assert.is(detectSwapAccounting(1, v1root), true);

    const v2root = path.join(dir, 'v2');
    mkdirSync(path.join(v2root, 'svc.slice'), { recursive: true });
    writeFileSync(path.join(v2root, 'cgroup.controllers'), 'memory pids\n');
    assert.is(detectCgroupVersion(v2root), 2);
    const self = path.join(dir, 'self-cgroup');
    writeFileSync(self, '0::/svc.slice\n');
    assert.is(detectSwapAccounting(2, v2root, self), false);
    writeFileSync(path.join(v2root, 'svc.slice', 'memory.swap.max'), 'max\n');
    assert.is(detectSwapAccounting(2, v2root, self), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cgroups: this host is detected as v1 hybrid when /sys/fs/cgroup has no cgroup.controllers', () => {
  const expected = existsSync('/sys/fs/cgroup/cgroup.controllers') ? 2 : 1;
  assert.is(detectCgroupVersion(), expected);
});

test('cgroupsPathFor: /<parent>/<id>', () => {
  assert.is(cgroupsPathFor('abc'), '/berth/abc');
  assert.is(cgroupsPathFor('abc', '/a/b/'), '/a/b/abc');
  assert.is(cgroupsPathFor('abc', 'a'), '/a/abc');
  assert.throws(() => cgroupsPathFor('abc', '../etc'), /"\." and "\.\." are not allowed/);
  assert.throws(() => cgroupsPathFor('a/b'), /invalid container id/);
});

const hostLimits = (nofileHard: number) => ({
  rlimits: {
    RLIMIT_NOFILE: { soft: 1024, hard: nofileHard },
    RLIMIT_CORE: { soft: 0, hard: Infinity },
    RLIMIT_NPROC: { soft: 100, hard: 100 },
  },
  canRaiseRlimits: false,
});

test('rlimits: default open files never above the host hard limit', () => {
  assert.equal(buildRlimits([], hostLimits(20000)), [{ type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 }]);
  assert.equal(buildRlimits(null, hostLimits(Infinity)), [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }]);
});

test('rlimits: --ulimit overrides, validates and knows unlimited', () => {
  const out = buildRlimits(
    [
      { Name: 'nofile', Soft: 1024, Hard: 2048 },
      { Name: 'core', Soft: -1, Hard: -1 },
    ],
    hostLimits(20000),
  );
  assert.equal(out, [
    { type: 'RLIMIT_NOFILE', hard: 2048, soft: 1024 },
    { type: 'RLIMIT_CORE', hard: RLIM_INFINITY, soft: RLIM_INFINITY },
  ]);
  assert.is(RLIM_INFINITY, 18446744073709551615n);
  invalid(() => buildRlimits([{ Name: 'nofiles', Soft: 1, Hard: 1 }], hostLimits(20000)), 'invalid ulimit type: nofiles');
  invalid(
    () => buildRlimits([{ Name: 'nofile', Soft: 10, Hard: 5 }], hostLimits(20000)),
    'ulimit soft limit must be less than or equal to hard limit: 10 > 5',
  );
  assert.throws(
    () => buildRlimits([{ Name: 'nofile', Soft: 100, Hard: 30000 }], hostLimits(20000)),
    /ulimit nofile: hard limit 30000 is above this host's hard limit 20000/,
  );
  assert.throws(
    () => buildRlimits([{ Name: 'nproc', Soft: -1, Hard: -1 }], hostLimits(20000)),
    /hard limit unlimited is above this host's hard limit 100/,
  );
  assert.equal(buildRlimits([{ Name: 'nofile', Soft: 100, Hard: 30000 }], { ...hostLimits(20000), canRaiseRlimits: true })[0]?.hard, 30000);
});

test('parseProcLimits and parseKernelVersion', () => {
  const text = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max core file size        0                    unlimited            bytes     ',
    'Max processes             96365                96365                processes ',
    'Max open files            20000                20000                files     ',
    'Max realtime timeout      unlimited            unlimited            us        ',
  ].join('\n');
  assert.equal(parseProcLimits(text), {
    RLIMIT_CORE: { soft: 0, hard: Infinity },
    RLIMIT_NPROC: { soft: 96365, hard: 96365 },
    RLIMIT_NOFILE: { soft: 20000, hard: 20000 },
    RLIMIT_RTTIME: { soft: Infinity, hard: Infinity },
  });
  assert.equal(parseKernelVersion('6.18.44-fc-v669'), [6, 18]);
  assert.equal(parseKernelVersion('4.8.0'), [4, 8]);
});

test('sysctls: only namespaced keys, and only with their namespace', () => {
  const priv = { privateNetwork: true, privateIpc: true };
  const ok = {
    'net.ipv4.ip_forward': '1',
    'kernel.shmmax': '1000',
    'kernel.msgmax': '10',
    'kernel.sem': '1 2 3 4',
    'fs.mqueue.msg_max': '20',
  };
  assert.equal(checkSysctls(ok, priv), ok);
  invalid(
    () => checkSysctls({ 'vm.swappiness': '1' }, priv),
    'sysctl "vm.swappiness" is not allowed in a container: only net.*, kernel.msg*, kernel.sem, kernel.shm* and fs.mqueue.* are namespaced',
  );
  invalid(
    () => checkSysctls({ 'kernel.hostname': 'x' }, priv),
    'sysctl "kernel.hostname" is not allowed in a container: only net.*, kernel.msg*, kernel.sem, kernel.shm* and fs.mqueue.* are namespaced',
  );
  assert.throws(
    () => checkSysctls({ 'net.ipv4.ip_forward': '1' }, { ...priv, privateNetwork: false }),
    /not allowed with the host's network namespace/,
  );
  assert.throws(() => checkSysctls({ 'kernel.shmmax': '1' }, { ...priv, privateIpc: false }), /not allowed with the host's ipc namespace/);
  assert.equal(checkSysctls(null, priv), {});
});

test.run();
