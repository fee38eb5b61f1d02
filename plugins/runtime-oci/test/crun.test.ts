/**
 * crun through berth-shim, on this host as it is. On a cgroup v1 hybrid host crun refuses
 * to run unless it cannot see the empty cgroup2 hierarchy, so every crun process runs in a
 * mount namespace of its own without it (plugins.ts, the shim's --hide-mount): these tests
 * check that crun then applies what runc applies (every v1 controller, the limits, the
 * bundle's device rules and no more, seccomp, capabilities, no_new_privs, for the init
 * and for an exec) and leaves nothing behind, and that the host keeps its cgroup2 mount.
 */

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { readMountInfo } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { seccompBpfAnnotation } from '../src/compiled-seccomp.js';
import { removeExitedCrunState } from '../src/crun-exited-state.js';
import { crunPlugin, isCgroupHybrid, type OciRuntime } from '../src/index.js';
import { kernelHasDirectExec } from '../src/plugins.js';
import { optimizeSeccompProgram } from '../src/seccomp-optimizer.js';
import { cgroupDirs, collect, Fixture, prefix, shimsLeft } from './support/fixture.js';

const fx = new Fixture();
let runtime: OciRuntime;

test.before(async () => {
  runtime = (await crunPlugin.init(fx.context())) as OciRuntime;
});
test.after(() => fx.cleanup());

/** A bundle for `args` with capabilities, a seccomp profile that refuses mkdir, and limits. */
function request(id: string, args: string[]) {
  const req = fx.request(id, args, { memoryLimit: 64 << 20 });
  const file = path.join(req.bundle, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8'));
  const caps = ['CAP_CHOWN', 'CAP_KILL', 'CAP_SETUID', 'CAP_SETGID', 'CAP_MKNOD'];
  config.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
  config.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
  };
  config.linux.resources.pids = { limit: 50 };
  config.linux.resources.cpu = { quota: 50_000, period: 100_000 };
  // Docker's default device rules: deny everything, then the usual character devices.
  config.linux.resources.devices = [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
    { allow: true, type: 'c', major: 136, access: 'rwm' },
  ];
  writeFileSync(file, JSON.stringify(config));
  return req;
}

/** The security-relevant lines of a /proc/<pid>/status. */
function security(status: string): string[] {
  return status.split('\n').filter((l) => /^(Cap(Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):/.test(l));
}

test('the plugin is usable here; on a hybrid host its processes run without the cgroup2 mount, which the host keeps', async () => {
  assert.is(runtime.name, 'crun');
  assert.match((await runtime.describe()).version, /^crun version \d+/);
  if (isCgroupHybrid()) assert.match(readFileSync('/proc/self/mounts', 'utf8'), / \/sys\/fs\/cgroup\/unified cgroup2 /);
});

test('a container: output, exit code, every v1 cgroup with its limits, the bundle devices only; delete leaves nothing', async () => {
  const id = fx.newId();
  await runtime.create(request(id, ['sh', '-c', 'cat /proc/self/cgroup; mkdir /tmp/x 2>/dev/null || echo refused >&2; exit 4']));
  const cgroups = cgroupDirs(id);
  const read = (controller: string, file: string) => readFileSync(path.join('/sys/fs/cgroup', controller, prefix, id, file), 'utf8').trim();
  if (!existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    assert.is(read('memory', 'memory.limit_in_bytes'), String(64 << 20));
    assert.is(read('pids', 'pids.max'), '50');
    assert.is(read('cpu', 'cpu.cfs_quota_us'), '50000');
    // crun allows c 5:1 (the host's console) of its own accord; the runtime denies it again.
    const devices = read('devices', 'devices.list').split('\n').sort();
    assert.equal(devices, ['c 136:* rwm', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:9 rwm']);
  }
  const streams = await runtime.connect(id);
  const out = collect(streams);
  await runtime.start(id);
  const status = await runtime.wait(id);
  await out.closed;
  assert.is(status.exitCode, 4);
  assert.is(out.stderr(), 'refused\n', 'the seccomp profile applies');
  for (const line of out
    .stdout()
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('0::'))) {
    assert.ok(line.endsWith(`:/${prefix}/${id}`), `in the container's cgroup: ${line}`);
  }
  await runtime.delete(id);
  for (const dir of cgroups) assert.not.ok(existsSync(dir), `cgroup removed: ${dir}`);
  assert.not.ok(existsSync(path.join(fx.context().execRoot, 'state', id)), "crun's state removed");
  assert.not.ok(existsSync(fx.stateDir(id)));
  assert.equal(await shimsLeft(id), []);
});

test("an exec joins the container's namespaces and cgroups with its capabilities, seccomp and no_new_privs", async () => {
  const id = fx.newId();
  const { pid } = await runtime.create(request(id, ['sleep', '100']));
  await runtime.start(id);
  try {
    const proc = await runtime.exec({
      containerId: id,
      execId: 'e1',
      stateDir: path.join(fx.stateDir(id), 'x', 'e1'),
      process: fx.execProcess(id, ['sh', '-c', 'hostname; cat /proc/self/cgroup; cat /proc/self/status; mkdir /tmp/y || exit 7']),
      openStdin: false,
      terminal: false,
    });
    const out = collect(proc.streams);
    await proc.start();
    const status = await proc.wait();
    await out.closed;
    assert.is(status.exitCode, 7, 'mkdir refused by the seccomp profile');
    const text = out.stdout();
    assert.ok(text.startsWith(`${id}\n`), 'the UTS namespace');
    const cgroupLines = text.split('\n').filter((l) => /^\d+:[^:]*:\//.test(l) && !l.startsWith('0::'));
    assert.ok(cgroupLines.length > 0);
    for (const line of cgroupLines) assert.ok(line.endsWith(`:/${prefix}/${id}`), `in the container's cgroup: ${line}`);
    assert.equal(security(text), security(readFileSync(`/proc/${pid}/status`, 'utf8')), 'as the init');
    assert.ok(security(text).includes('NoNewPrivs:\t1'));
  } finally {
    await runtime.kill(id, 'SIGKILL');
    await runtime.wait(id);
    await runtime.delete(id);
  }
});

/**
 * Syscalls a busybox shell running mkdir and sleep never makes: refused with mkdir, they
 * make crun compile a chain of some 70 tests that the optimizer rewrites.
 */
const unused = (
  'acct add_key adjtimex bpf clock_adjtime clock_settime delete_module finit_module fanotify_init ' +
  'fanotify_mark init_module ioperm iopl kcmp kexec_file_load kexec_load keyctl lookup_dcookie mbind migrate_pages ' +
  'move_pages name_to_handle_at open_by_handle_at perf_event_open pivot_root process_vm_readv process_vm_writev ' +
  'ptrace quotactl reboot request_key set_mempolicy get_mempolicy setns settimeofday swapon swapoff sysfs umount2 ' +
  'unshare uselib userfaultfd ustat syslog mount chroot sethostname setdomainname io_setup io_destroy io_getevents ' +
  'io_submit io_cancel remap_file_pages mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr ' +
  'msgget msgsnd msgrcv msgctl semget semop semctl shmget shmat shmdt shmctl tee vmsplice'
).split(' ');

test('a profile crun compiled once is handed to later creates ready made, optimized: the init and the execs of the first and later containers refuse what it refuses', async () => {
  // A runtime of its own, so the first create here is the first with this profile.
  const fresh = (await crunPlugin.init(fx.context())) as OciRuntime;
  const runOnce = async (req: ReturnType<typeof request>, withExec: boolean) => {
    const file = path.join(req.bundle, 'config.json');
    const config = JSON.parse(readFileSync(file, 'utf8'));
    config.linux.seccomp.syscalls[0].names.push(...unused);
    writeFileSync(file, JSON.stringify(config));
    await fresh.create(req);
    const copy = path.join(fx.stateDir(req.id), 'runtime-config.json');
    const handed = existsSync(copy) ? JSON.parse(readFileSync(copy, 'utf8')).annotations?.[seccompBpfAnnotation] : undefined;
    const program = readFileSync(path.join(fx.context().execRoot, 'state', req.id, 'seccomp.bpf'));
    const out = collect(await fresh.connect(req.id));
    await fresh.start(req.id);
    let execStatus: number | undefined;
    if (withExec) {
      const proc = await fresh.exec({
        containerId: req.id,
        execId: 'e1',
        stateDir: path.join(fx.stateDir(req.id), 'x', 'e1'),
        process: fx.execProcess(req.id, ['sh', '-c', 'mkdir /tmp/e || exit 9']),
        openStdin: false,
        terminal: false,
      });
      await proc.start();
      execStatus = (await proc.wait()).exitCode;
    }
    // The init's first words before it is killed (an exec without a runtime process can be
    // over before the init's shell has even run its mkdir).
    for (const until = Date.now() + 2000; !out.stdout() && !out.stderr() && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await fresh.kill(req.id, 'SIGKILL').catch(() => {});
    const status = await fresh.wait(req.id);
    await out.closed;
    await fresh.delete(req.id);
    return { handed, program, status, execStatus, stderr: out.stderr() };
  };
  const mkdirThenSleep = ['sh', '-c', 'mkdir /tmp/x 2>/dev/null || echo refused >&2; sleep 100'];
  const first = await runOnce(request(fx.newId(), mkdirThenSleep), true);
  assert.is(first.handed, undefined, 'the first create compiles the profile itself');
  assert.is(first.stderr, 'refused\n');
  assert.is(first.execStatus, 9, 'an exec into the first container refuses mkdir');
  const optimized = optimizeSeccompProgram(first.program);
  assert.is.not(optimized, first.program, "crun's program for this profile is one the optimizer rewrites");
  if (kernelHasDirectExec()) {
    // the direct exec's plan named an optimized copy of the first container's program
    const copy = path.join(fx.context().execRoot, 'seccomp', `${createHash('sha256').update(optimized).digest('hex')}.bpf`);
    assert.ok(readFileSync(copy).equals(optimized), 'the optimized copy the exec loaded');
  }
  const second = await runOnce(request(fx.newId(), mkdirThenSleep), true);
  assert.is(second.handed, optimized.toString('base64'), 'the second gets the program crun compiled for the first, optimized');
  assert.ok(second.program.equals(optimized), 'and crun loads that very program');
  assert.is(second.stderr, 'refused\n', 'the profile applies to the init');
  assert.is(second.execStatus, 9, 'and to an exec');
  // Another profile is never given that program.
  const other = request(fx.newId(), ['sh', '-c', 'mkdir /tmp/x && echo made; sleep 100']);
  const file = path.join(other.bundle, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8'));
  config.linux.seccomp.syscalls[0].names = ['chroot'];
  writeFileSync(file, JSON.stringify(config));
  // (runOnce adds the unused syscalls: still another profile, without mkdir)
  const third = await runOnce(other, false);
  assert.is(third.handed, undefined, 'another profile is compiled by crun');
  assert.is(third.stderr, '');
  await fresh.close?.();
});

test('pause and resume (the freezer), and update of a limit, through crun', async () => {
  const id = fx.newId();
  await runtime.create(request(id, ['sleep', '100']));
  await runtime.start(id);
  try {
    await runtime.pause(id);
    if (!existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      assert.is(readFileSync(path.join('/sys/fs/cgroup/freezer', prefix, id, 'freezer.state'), 'utf8').trim(), 'FROZEN');
    }
    await runtime.resume(id);
    await runtime.update(id, { pids: { limit: 30 } });
    if (!existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      assert.is(readFileSync(path.join('/sys/fs/cgroup/freezer', prefix, id, 'freezer.state'), 'utf8').trim(), 'THAWED');
      assert.is(readFileSync(path.join('/sys/fs/cgroup/pids', prefix, id, 'pids.max'), 'utf8').trim(), '30');
    }
  } finally {
    await runtime.kill(id, 'SIGKILL');
    assert.is((await runtime.wait(id)).exitCode, 137);
    await runtime.delete(id);
  }
});

test('OOM: a container past its memory limit is killed and reported', async () => {
  const id = fx.newId();
  await runtime.create(request(id, ['sh', '-c', 'x=a; while true; do x="$x$x"; done']));
  await runtime.start(id);
  const status = await runtime.wait(id);
  assert.is(status.exitCode, 137);
  assert.is(status.oomKilled, true);
  await runtime.delete(id);
});

test("start writes crun's exec fifo itself (no crun process, no start log); a created container's state is left to crun delete", async () => {
  const id = fx.newId();
  await runtime.create(request(id, ['sh', '-c', 'echo started']));
  const fifo = path.join(fx.context().execRoot, 'state', id, 'exec.fifo');
  assert.ok(existsSync(fifo), 'created: the init waits on its fifo');
  // The init is alive: the in-process removal refuses, and delete falls back to crun's.
  assert.is(await removeExitedCrunState(path.join(fx.context().execRoot, 'state'), id, ['/sys/fs/cgroup/memory']), false);
  const out = collect(await runtime.connect(id));
  await runtime.start(id);
  assert.is((await runtime.wait(id)).exitCode, 0);
  await out.closed;
  assert.is(out.stdout(), 'started\n');
  assert.not.ok(existsSync(fifo), 'the fifo is gone, as crun start leaves it');
  assert.not.ok(existsSync(path.join(fx.stateDir(id), 'runtime-start.log')), 'no crun start ran');
  // Exited: its cgroups and crun's state go in-process (what delete does first), no crun delete.
  const v1 = readMountInfo()
    .filter((m) => m.fstype === 'cgroup')
    .map((m) => m.mountPoint);
  if (v1.length > 0) {
    assert.is(await removeExitedCrunState(path.join(fx.context().execRoot, 'state'), id, v1), true);
    assert.not.ok(existsSync(path.join(fx.context().execRoot, 'state', id)));
    for (const dir of cgroupDirs(id)) assert.not.ok(existsSync(dir), `cgroup removed: ${dir}`);
  }
  await runtime.delete(id);

  const created = fx.newId();
  await runtime.create(request(created, ['true']));
  await runtime.delete(created); // never started: crun delete --force kills the waiting init
  assert.not.ok(existsSync(path.join(fx.context().execRoot, 'state', created)));
  for (const dir of cgroupDirs(created)) assert.not.ok(existsSync(dir), `cgroup removed: ${dir}`);
});

test('an init that died before start: start fails with one message', async () => {
  const id = fx.newId();
  const { pid } = await runtime.create(request(id, ['true']));
  process.kill(pid, 'SIGKILL');
  await runtime.wait(id);
  try {
    await runtime.start(id);
    assert.unreachable('start must fail');
  } catch (err) {
    assert.match((err as Error).message, /cannot start a container that has stopped/);
  }
  await runtime.delete(id);
});

test.run();
