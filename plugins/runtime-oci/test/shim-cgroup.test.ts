import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type Logger, type MountInfoEntry, readMountInfo, silentLogger, trackingHierarchies } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type OciRuntime, runcPlugin } from '../src/index.js';
import { ShimCgroup } from '../src/shim-cgroup.js';
import { Fixture, prefix } from './support/fixture.js';

const fx = new Fixture();
test.after(() => fx.cleanup());

const entry = (mountPoint: string, fstype: string, superOptions: string): MountInfoEntry => ({
  id: 1,
  parentId: 0,
  mountPoint,
  fstype,
  source: fstype,
  superOptions,
});

/** A logger that keeps its warnings. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const log: Logger & { warnings: string[] } = {
    ...silentLogger,
    warnings,
    warn: (message: string, fields?: Record<string, unknown>) => void warnings.push(`${message} ${JSON.stringify(fields ?? {})}`),
    child: () => log,
  };
  return log;
}

/** The cgroup path of `pid` in the hierarchy mounted at `root` ("/berth/shims"). */
function cgroupOf(pid: number, root: string): string | undefined {
  const hybridV2 = root === '/sys/fs/cgroup/unified' || root === '/sys/fs/cgroup';
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const [hid, controllers, p] = line.split(':');
    if (hybridV2 && hid === '0' && controllers === '') return p;
    if (!hybridV2 && controllers === `name=${path.basename(root)}`) return p;
  }
  return undefined;
}

test('tracking hierarchies: every cgroup2 mount and v1 name=systemd, each hierarchy once; no controllers', () => {
  const hybrid = [
    entry('/sys/fs/cgroup', 'tmpfs', 'rw,mode=755'),
    entry('/sys/fs/cgroup/cpu', 'cgroup', 'rw,cpu'),
    entry('/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
    entry('/sys/fs/cgroup/systemd', 'cgroup', 'rw,xattr,name=systemd'),
    entry('/sys/fs/cgroup/unified', 'cgroup2', 'rw,nsdelegate'),
    entry('/mnt/again', 'cgroup2', 'rw,nsdelegate'), // the same hierarchy mounted twice
  ];
  assert.equal(trackingHierarchies(hybrid), ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified']);
  assert.equal(trackingHierarchies([entry('/sys/fs/cgroup', 'cgroup2', 'rw,nsdelegate,memory_recursiveprot')]), ['/sys/fs/cgroup']);
  assert.equal(trackingHierarchies([entry('/sys/fs/cgroup/cpu', 'cgroup', 'rw,cpu')]), []);
});

test('a shim cgroup path that leaves the hierarchy is refused; an empty one means none', () => {
  assert.throws(() => ShimCgroup.open('berth/../../etc', silentLogger), /must be a path inside the cgroup hierarchy/);
  assert.equal(ShimCgroup.open('', silentLogger).dirs, []);
  assert.equal(ShimCgroup.open('/', silentLogger).dirs, []);
});

test('a hierarchy where the cgroup cannot be made is left out with a warning', () => {
  const log = recordingLogger();
  const cg = ShimCgroup.open(`${prefix}-nope/shims`, log, [entry('/etc/hostname', 'cgroup2', 'rw')]);
  assert.equal(cg.dirs, []);
  assert.is(log.warnings.length, 1);
  assert.match(log.warnings[0]!, /cannot make the shim cgroup/);
});

test("the shim moves into <cgroup-parent>/shims of this host's tracking hierarchies; close removes it once no shim is left", async () => {
  const roots = trackingHierarchies(readMountInfo());
  assert.ok(roots.length > 0, 'this host has a cgroup2 or name=systemd hierarchy');
  const runtime = (await runcPlugin.init(fx.context())) as OciRuntime;
  const dirs = roots.map((root) => path.join(root, prefix, 'shims'));
  for (const dir of dirs) assert.ok(existsSync(dir), `${dir} made at init`);

  const id = fx.newId();
  await runtime.create(fx.request(id, ['sleep', '100']));
  const shim = fx.shimPid(id)!;
  for (const root of roots) assert.is(cgroupOf(shim, root), `/${prefix}/shims`, `shim in ${root}`);
  // The runtime's own migration put the container's init in its cgroup, not the shim's.
  const init = Number(readFileSync(path.join(fx.stateDir(id), 'pid'), 'utf8'));
  for (const root of roots) assert.is(cgroupOf(init, root), `/${prefix}/${id}`, `init in ${root}`);

  // A live shim keeps the cgroup through close.
  await runtime.close();
  for (const dir of dirs) assert.ok(existsSync(dir), `${dir} kept while a shim lives in it`);

  await runtime.start(id);
  await runtime.kill(id, 'SIGKILL');
  await runtime.wait(id);
  await runtime.delete(id);
  await runtime.close();
  for (const dir of dirs) assert.not.ok(existsSync(dir), `${dir} removed at close`);
});

test('close waits for shims that are finishing (their exit recorded), never for one still monitoring', async () => {
  const state = path.join(fx.dir, 'finishing-state');
  mkdirSync(state, { recursive: true });
  /** A process that looks like a shim of `state` to the kernel's view (argv), in the cgroup, for `ms`. */
  const shimLike = (cg: ShimCgroup, ms: number) => {
    const child = spawn(process.execPath, ['-e', `setTimeout(() => {}, ${ms})`, '--', '--state-dir', state], {
      argv0: '/usr/local/lib/berth-shim',
      stdio: 'ignore',
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Moved once it runs as that program (before its exec it is still this process's copy).
    while (!readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').includes('--state-dir')) execFileSync('sleep', ['0.01']);
    for (const dir of cg.dirs) writeFileSync(path.join(dir, 'cgroup.procs'), String(child.pid));
    return exited;
  };
  const live = ShimCgroup.open(`${prefix}-live/shims`, silentLogger);
  const finishing = ShimCgroup.open(`${prefix}-finishing/shims`, silentLogger);
  try {
    // Lives well past the bound below, so that a loaded machine's slow close is not taken
    // for a close that waited for it.
    const monitoring = shimLike(live, 2000);
    let began = Date.now();
    await live.close(); // no exit.json: a shim that still monitors keeps its cgroup
    assert.ok(Date.now() - began < 1000, `close does not wait for a shim that still monitors (${Date.now() - began} ms)`);
    for (const dir of live.dirs) assert.ok(existsSync(dir), `${dir} kept`);
    await monitoring;
    await live.close();

    writeFileSync(path.join(state, 'exit.json'), '{"exitCode":0}\n');
    const exited = shimLike(finishing, 150);
    began = Date.now();
    await finishing.close(10_000); // longer than the default second: this machine may be loaded
    for (const dir of finishing.dirs) assert.not.ok(existsSync(dir), `${dir} removed once the finishing shim left`);
    assert.ok(Date.now() - began >= 100, `close waited for it (${Date.now() - began} ms)`);
    await exited;
  } finally {
    for (const dir of [...live.dirs, ...finishing.dirs]) {
      for (const d of [dir, path.dirname(dir)]) {
        try {
          rmdirSync(d);
        } catch {}
      }
    }
  }
});

test('a shim that cannot join its cgroup says so, and the container runs all the same', async () => {
  const log = recordingLogger();
  const runtime = (await runcPlugin.init({ ...fx.context(), log, config: { shimCgroup: `${prefix}-gone/shims` } })) as OciRuntime;
  const made = trackingHierarchies(readMountInfo()).map((root) => path.join(root, `${prefix}-gone`));
  // The cgroup vanishes between init and create (an operator's rmdir).
  for (const dir of made) {
    rmdirSync(path.join(dir, 'shims'));
    rmdirSync(dir);
  }
  const id = fx.newId();
  await runtime.create(fx.request(id, ['true']));
  assert.ok(
    log.warnings.some((w) => /berth-shim: cannot join cgroup .*gone\/shims: No such file or directory/.test(w)),
    log.warnings.join('\n'),
  );
  await runtime.start(id);
  assert.is((await runtime.wait(id)).exitCode, 0);
  await runtime.delete(id);
  await runtime.close();
});

test.run();
