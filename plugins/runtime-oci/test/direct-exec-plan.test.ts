import { type MountInfoEntry, readMountInfo } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { capabilityMask } from '../src/capabilities.js';
import { cgroupTargets, planContainerDirectExec, planDirectExec, planProcessDirectExec } from '../src/direct-exec-plan.js';
import { kernelHasDirectExec } from '../src/plugins.js';

// The plan of a direct exec, and every case that must go through the runtime instead.
// The "init" is this test's own process: it shares every namespace with itself; the
// cgroup targets are checked on a made-up /proc/<pid>/cgroup and mount table.

const mounts: MountInfoEntry[] = [
  { id: 1, parentId: 0, mountPoint: '/sys/fs/cgroup/memory', fstype: 'cgroup', source: 'cgroup', superOptions: 'rw,memory' },
  { id: 2, parentId: 0, mountPoint: '/sys/fs/cgroup/cpu,cpuacct', fstype: 'cgroup', source: 'cgroup', superOptions: 'rw,cpu,cpuacct' },
  { id: 3, parentId: 0, mountPoint: '/sys/fs/cgroup/systemd', fstype: 'cgroup', source: 'cgroup', superOptions: 'rw,name=systemd' },
  { id: 4, parentId: 0, mountPoint: '/sys/fs/cgroup/unified', fstype: 'cgroup2', source: 'cgroup2', superOptions: 'rw' },
];

/** This host's mounts, for plans made from this process (whose cgroups are the host's). */
const hostMounts = readMountInfo();

const process0 = {
  args: ['true'],
  env: ['PATH=/bin', 'A=b'],
  cwd: '/tmp',
  user: { uid: 1000, gid: 1001, additionalGids: [10] },
  capabilities: { bounding: ['CAP_CHOWN', 'CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] },
  rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2 ** 64 }],
  noNewPrivileges: true,
};

/** The plan's pairs, as the shim reads them. */
function pairs(plan: Buffer): [string, string][] {
  const fields = plan.toString('utf8').split('\0').slice(0, -1);
  const out: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) out.push([fields[i]!, fields[i + 1]!]);
  return out;
}

test('a plan: ids, capability masks, rlimits with RLIM_INFINITY, cwd, env, args, the seccomp program', () => {
  const result = planDirectExec({
    initPid: process.pid,
    process: process0,
    seccomp: true,
    seccompProgram: '/x/seccomp.bpf',
    mounts: hostMounts,
  });
  assert.ok('plan' in result, JSON.stringify(result));
  if (!('plan' in result)) return;
  const p = pairs(result.plan);
  const get = (k: string) => p.filter(([key]) => key === k).map(([, v]) => v);
  assert.equal(get('pid'), [String(process.pid)]);
  assert.equal(get('ns'), ['0'], 'nothing to join: the same namespaces');
  assert.equal(get('uid'), ['1000']);
  assert.equal(get('gid'), ['1001']);
  assert.equal(get('group'), ['10']);
  assert.equal(get('cap-bounding'), [String((1n << 0n) | (1n << 5n))]);
  assert.equal(get('cap-effective'), [String(1n << 5n)]);
  assert.equal(get('cap-ambient'), ['0']);
  assert.equal(get('rlimit'), [`7 1024 ${(1n << 64n) - 1n}`]);
  assert.equal(get('no-new-privs'), ['1']);
  assert.equal(get('seccomp'), ['/x/seccomp.bpf']);
  assert.equal(get('arg'), ['true']);
  assert.equal(get('env'), ['PATH=/bin', 'A=b']);
  assert.equal(get('cwd'), ['/tmp']);
});

test('a plan in two parts (a monitor prepared before its exec): where it runs, then what runs; together, the whole plan', () => {
  const input = { initPid: process.pid, seccomp: true, seccompProgram: '/x/seccomp.bpf', mounts: hostMounts };
  const whole = planDirectExec({ ...input, process: process0 });
  const where = planContainerDirectExec(input);
  const what = planProcessDirectExec(process0);
  assert.ok('plan' in whole && 'plan' in where && 'part' in what);
  if (!('plan' in whole && 'plan' in where && 'part' in what)) return;
  const containerKeys = ['pid', 'start-time', 'ns', 'cgroup2', 'tasks', 'seccomp'];
  assert.ok(
    pairs(where.plan).every(([k]) => containerKeys.includes(k)),
    'the container part names only where',
  );
  assert.ok(
    pairs(what.part).every(([k]) => !containerKeys.includes(k)),
    'the process part never names where',
  );
  assert.equal(Buffer.concat([where.plan, what.part]), whole.plan);
  assert.equal(planProcessDirectExec({ ...process0, selinuxLabel: 'x' }), { fallback: 'the process has an LSM label' });
  assert.equal(planProcessDirectExec({ ...process0, args: [] }), { fallback: 'no args' });
});

test('what goes through the runtime, with the reason', () => {
  const plan = (over: Record<string, unknown>, seccomp = false, seccompProgram?: string) =>
    planDirectExec({ initPid: process.pid, process: { ...process0, ...over }, seccomp, seccompProgram, mounts: hostMounts });
  const reason = (r: ReturnType<typeof planDirectExec>) => ('fallback' in r ? r.fallback : 'direct');
  assert.match(reason(plan({ apparmorProfile: 'docker-default' })), /LSM label/);
  assert.match(reason(plan({ selinuxLabel: 'system_u:system_r:container_t:s0' })), /LSM label/);
  assert.match(reason(plan({}, true)), /seccomp program is not at hand/);
  assert.match(reason(plan({ capabilities: { bounding: ['CAP_NO_SUCH'] } })), /capability/);
  assert.match(reason(plan({ rlimits: [{ type: 'RLIMIT_NO_SUCH', soft: 1, hard: 1 }] })), /rlimit/);
  assert.match(reason(plan({ env: ['A=\0'] })), /NUL/);
  assert.match(reason(plan({ user: { uid: 1, gid: 1, additionalGids: Array.from({ length: 300 }, (_, i) => i) } })), /more groups/);
  assert.match(reason(plan({ env: [`A=${'x'.repeat(1 << 20)}`] })), /1 MiB/);
  assert.match(reason(planDirectExec({ initPid: 2 ** 22 + 12345, process: process0, seccomp: false, mounts: hostMounts })), /is gone/);
  assert.is(reason(plan({})), 'direct');
});

test('cgroup targets: the cgroup2 directory and each v1 tasks file; a hierarchy without a mount goes to the runtime', () => {
  const procCgroup = '3:name=systemd:/berth/c1\n2:cpu,cpuacct:/berth/c1\n1:memory:/berth/c1\n0::/berth/shims\n';
  assert.equal(cgroupTargets(procCgroup, mounts), {
    cgroup2: '/sys/fs/cgroup/unified/berth/shims',
    tasks: ['/sys/fs/cgroup/systemd/berth/c1/tasks', '/sys/fs/cgroup/cpu,cpuacct/berth/c1/tasks', '/sys/fs/cgroup/memory/berth/c1/tasks'],
  });
  assert.ok('fallback' in cgroupTargets('5:pids:/berth/c1\n', mounts));
  assert.ok('fallback' in cgroupTargets('1:memory:/berth/../x\n', mounts));
});

test('capability masks: names with or without CAP_, unknown ones refused', () => {
  assert.is(capabilityMask(['CAP_CHOWN', 'kill', 'CAP_CHECKPOINT_RESTORE']), (1n << 0n) | (1n << 5n) | (1n << 40n));
  assert.is(capabilityMask([]), 0n);
  assert.is(capabilityMask(['CAP_FLY']), undefined);
});

test('a kernel older than 5.11 execs through the runtime', () => {
  assert.ok(kernelHasDirectExec('6.18.44-fc-v1300'));
  assert.ok(kernelHasDirectExec('5.11.0'));
  assert.not.ok(kernelHasDirectExec('5.10.200'));
  assert.not.ok(kernelHasDirectExec('4.19.0'));
  assert.not.ok(kernelHasDirectExec('weird'));
});

test.run();
