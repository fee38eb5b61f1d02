/**
 * Direct execs (src/direct-exec-plan.ts, native/shim/direct-exec.c): the exec's shim runs
 * the process itself, without a runtime process. Checked from the host against the
 * container's init, on the real kernel: every namespace, every cgroup, the capability
 * sets, seccomp and no_new_privs; ids, groups, cwd, env, rlimits; only fds 0-2; the
 * user's binary, not the shim's; runc's error messages; the cases that go through the
 * runtime (runc with a seccomp filter); nothing left after the exit.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { RuntimeProcess } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { capabilityNames } from '../src/capabilities.js';
import { crunPlugin, type OciRuntime, runcPlugin } from '../src/index.js';
import { collect, Fixture, processEnded, shimPids } from './support/fixture.js';

const fx = new Fixture();
let crun: OciRuntime;
let runc: OciRuntime;

test.before(async () => {
  crun = (await crunPlugin.init(fx.context())) as OciRuntime;
  runc = (await runcPlugin.init(fx.context())) as OciRuntime;
});
test.after(() => fx.cleanup());

async function running(runtime: OciRuntime, options: { seccomp?: boolean; terminal?: boolean } = {}) {
  const id = fx.newId();
  const { pid } = await runtime.create(fx.dockerLikeRequest(id, ['sleep', '100'], options));
  await runtime.start(id);
  let n = 0;
  return {
    id,
    pid,
    async exec(args: string[], extra: Record<string, unknown> = {}, io: { terminal?: boolean; openStdin?: boolean } = {}) {
      const stateDir = path.join(fx.stateDir(id), 'x', `e${++n}`);
      const proc = await runtime.exec({
        containerId: id,
        execId: `e${n}`,
        stateDir,
        process: fx.execProcess(id, args, extra),
        openStdin: io.openStdin === true,
        terminal: io.terminal === true,
      });
      return { proc, stateDir };
    },
    async done() {
      await runtime.kill(id, 'SIGKILL');
      await runtime.wait(id);
      await runtime.delete(id);
    },
  };
}

const security = (pid: number) =>
  readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .filter((l) => /^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters):/.test(l));
const namespaces = (pid: number) =>
  Object.fromEntries(['ipc', 'uts', 'net', 'pid', 'mnt', 'cgroup', 'user'].map((ns) => [ns, readlinkSync(`/proc/${pid}/ns/${ns}`)]));

/** Start `proc` and stop it again (SIGKILL: 137), returning what `inspect` read of it meanwhile. */
async function whileRunning<T>(proc: RuntimeProcess, inspect: (pid: number) => T): Promise<T> {
  const { pid } = await proc.start();
  try {
    return inspect(pid);
  } finally {
    await proc.kill('SIGKILL');
    assert.is((await proc.wait()).exitCode, 137);
  }
}

for (const [name, runtimeOf] of [
  ['crun', () => crun],
  ['runc', () => runc],
] as const) {
  // runc keeps no compiled seccomp program: its containers without a filter exec directly.
  const seccomp = name === 'crun';
  test(`${name}: a direct exec has the init's namespaces, cgroups, capability sets, seccomp and no_new_privs; fds 0-2 only; the user's binary`, async () => {
    const c = await running(runtimeOf(), { seccomp });
    try {
      const { proc, stateDir } = await c.exec(['sleep', '100']);
      assert.ok(existsSync(path.join(stateDir, 'plan')), 'a plan for the shim');
      assert.not.ok(existsSync(path.join(stateDir, 'process.json')), 'no process for a runtime');
      const seen = await whileRunning(proc, (pid) => ({
        ns: namespaces(pid),
        cgroup: readFileSync(`/proc/${pid}/cgroup`, 'utf8'),
        security: security(pid),
        fds: readdirSync(`/proc/${pid}/fd`).sort(),
        exe: statSync(`/proc/${pid}/exe`),
      }));
      assert.equal(seen.ns, namespaces(c.pid), 'every namespace of the init');
      assert.is(seen.cgroup, readFileSync(`/proc/${c.pid}/cgroup`, 'utf8'), 'every cgroup of the init');
      assert.equal(seen.security, security(c.pid), 'the capability sets, seccomp and no_new_privs of the init');
      assert.ok(seen.security.includes('NoNewPrivs:\t1'));
      assert.ok(seen.security.includes(`Seccomp:\t${seccomp ? 2 : 0}`));
      assert.equal(seen.fds, ['0', '1', '2'], 'no descriptor of the shim');
      const busybox = statSync(path.join(fx.dir, 'bundles', c.id, 'rootfs/bin/busybox'));
      assert.equal([seen.exe.dev, seen.exe.ino], [busybox.dev, busybox.ino], "the container's binary, not the shim's");
      assert.not.ok(existsSync(path.join(stateDir, 'runtime-exec.log')), 'no runtime process ran');
      if (seccomp) {
        const refused = await c.exec(['sh', '-c', 'mkdir /tmp/z || exit 9']);
        await refused.proc.start();
        assert.is((await refused.proc.wait()).exitCode, 9, 'the seccomp profile applies');
        await runtimeOf().releaseExec(c.id, refused.stateDir);
      }
      await runtimeOf().releaseExec(c.id, stateDir);
      assert.not.ok(existsSync(stateDir), 'no state dir left');
      assert.is(await shimsBesideContainer(c.id), 1, "only the container's shim is left");
    } finally {
      await c.done();
    }
  });
}

test('privileged: the full capability sets of the host, still the container seccomp filter', async () => {
  const c = await running(crun);
  try {
    const all = (readFileSync('/proc/self/status', 'utf8').match(/^CapBnd:\s*(\S+)/m) ?? [])[1]!;
    const names = allCapabilityNames(BigInt(`0x${all}`));
    const { proc } = await c.exec(['sleep', '100'], { capabilities: { bounding: names, effective: names, permitted: names } });
    const seen = await whileRunning(proc, security);
    assert.ok(seen.includes(`CapEff:\t${all}`), seen.join(' '));
    assert.ok(seen.includes(`CapBnd:\t${all}`), seen.join(' '));
    assert.ok(seen.includes(`CapPrm:\t${all}`), seen.join(' '));
    assert.ok(seen.includes('Seccomp:\t2'), seen.join(' '));
  } finally {
    await c.done();
  }
});

test('-u -w -e and rlimits: uid, gid and groups, cwd, env, limits; a terminal from the container devpts', async () => {
  const c = await running(crun, { terminal: false });
  try {
    const { proc } = await c.exec(['sh', '-c', 'pwd; echo $FOO; cat /proc/self/status /proc/self/limits'], {
      user: { uid: 1000, gid: 1001, additionalGids: [10, 20] },
      cwd: '/tmp',
      env: ['PATH=/bin', 'FOO=bar'],
    });
    const out = collect(proc.streams);
    await proc.start();
    assert.is((await proc.wait()).exitCode, 0);
    await out.closed;
    const text = out.stdout();
    assert.ok(text.startsWith('/tmp\nbar\n'), text);
    assert.match(text, /^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    assert.match(text, /^Gid:\s+1001\s+1001\s+1001\s+1001$/m);
    assert.match(text, /^Groups:\s+10 20\s*$/m);
    assert.match(text, /^CapEff:\s+0+$/m, 'a non-root user has no effective capabilities');
    assert.match(text, /^Max open files\s+1024\s+4096\s+files/m);

    const tty = await c.exec(['sh', '-c', 'test -t 0 && echo tty; ls -l /proc/self/fd/0'], { terminal: true }, { terminal: true });
    const ttyOut = collect(tty.proc.streams);
    await tty.proc.start();
    assert.is((await tty.proc.wait()).exitCode, 0);
    await ttyOut.closed;
    assert.match(ttyOut.stdout(), /tty\r\n.*-> \/dev\/pts\/\d+/);
  } finally {
    await c.done();
  }
});

test("runc's messages: a command not found, not executable, a missing cwd; the monitor records 255 and ends", async () => {
  const c = await running(crun);
  try {
    const cases: [string[], Record<string, unknown>, RegExp][] = [
      [
        ['nosuchcmd'],
        {},
        /^OCI runtime exec failed: exec failed: unable to start container process: exec: "nosuchcmd": executable file not found in \$PATH$/,
      ],
      [['/nosuch'], {}, /exec: "\/nosuch": stat \/nosuch: no such file or directory$/],
      [['/bin'], {}, /exec: "\/bin": permission denied$/],
      [['true'], { cwd: '/nonexist' }, /chdir to cwd \("\/nonexist"\) set in config.json failed: no such file or directory$/],
    ];
    for (const [args, extra, message] of cases) {
      const { proc, stateDir } = await c.exec(args, extra);
      const failed = await proc.start().then(
        () => 'started',
        (err: Error) => err.message,
      );
      assert.match(failed, message);
      assert.is((await proc.wait()).exitCode, 255);
      await crun.releaseExec(c.id, stateDir);
      assert.not.ok(existsSync(stateDir));
    }
    assert.is(await shimsBesideContainer(c.id), 1, "only the container's shim is left");
  } finally {
    await c.done();
  }
});

test("a direct exec runs nothing before its start; its monitor ends having run nothing when dropped first, or when the container's init exits first", async () => {
  const c = await running(crun);
  const shimOf = async (stateDir: string) => {
    const file = path.join(stateDir, 'shim.pid');
    const until = Date.now() + 2000;
    while (!existsSync(file) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return Number(readFileSync(file, 'utf8'));
  };
  const childrenOf = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  try {
    // Made (its shim launched and waiting), not started: no process, no pid file.
    const made = await c.exec(['sleep', '100']);
    const shim = await shimOf(made.stateDir);
    await new Promise((r) => setTimeout(r, 50));
    assert.is(childrenOf(shim), '', 'the waiting shim runs nothing');
    assert.is(recordedPid(made.stateDir), '', 'no pid recorded');
    const { pid } = await made.proc.start();
    assert.is(childrenOf(shim), String(pid), 'the process runs once started');
    await made.proc.kill('SIGKILL');
    assert.is((await made.proc.wait()).exitCode, 137);

    // Dropped before its start (the daemon went): it ends, recording that nothing ran.
    const dropped = await c.exec(['sleep', '100']);
    const droppedShim = await shimOf(dropped.stateDir);
    dropped.proc.streams.close();
    await crun.releaseExec(c.id, dropped.stateDir); // waits for the shim to end
    assert.ok(await processEnded(droppedShim), 'the dropped monitor ended');

    // The container's init exits before the start: it ends too, 255, nothing ran.
    const orphan = await c.exec(['sleep', '100']);
    const orphanShim = await shimOf(orphan.stateDir);
    await crun.kill(c.id, 'SIGKILL');
    assert.is((await orphan.proc.wait()).exitCode, 255);
    await crun.releaseExec(c.id, orphan.stateDir);
    assert.ok(await processEnded(orphanShim), "the monitor ended with the container's init");
  } finally {
    await c.done();
  }
});

test('runc with a seccomp filter: the exec goes through runc (no compiled program at hand), with the same result', async () => {
  const c = await running(runc, { seccomp: true });
  try {
    const { proc, stateDir } = await c.exec(['sleep', '100']);
    assert.ok(existsSync(path.join(stateDir, 'process.json')), 'a process for runc');
    assert.not.ok(existsSync(path.join(stateDir, 'plan')));
    const seen = await whileRunning(proc, (pid) => ({ security: security(pid), cgroup: readFileSync(`/proc/${pid}/cgroup`, 'utf8') }));
    assert.equal(seen.security, security(c.pid));
    assert.ok(seen.security.includes('Seccomp:\t2'));
  } finally {
    await c.done();
  }
});

/**
 * How many shims name container `id` once its execs' shims are gone (within 1 s: an exec's
 * shim removes its pid file, which releaseExec waits for, just before it exits).
 */
async function shimsBesideContainer(id: string): Promise<number> {
  const until = Date.now() + 1000;
  while (shimPids(id).length > 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  return shimPids(id).length;
}

/** The names of the capabilities in `mask` (the host's bounding set), as the OCI spec writes them. */
function allCapabilityNames(mask: bigint): string[] {
  return capabilityNames.filter((_n, i) => (mask >> BigInt(i)) & 1n).map((n) => `CAP_${n}`);
}

/** The pid an exec's monitor recorded in its state dir (its `pid` file, made empty by a monitor that waits for its start): '' for none. */
function recordedPid(dir: string): string {
  const file = path.join(dir, 'pid');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
}

test.run();
