import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { type AnyPluginManifest, type EngineEvent, isSameProcess, type Logger } from '@berth/core';
import { readTar } from '@berth/image';
import { isMountPoint } from '@berth/native';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import fuse from '@berth/storage-fuse';
import { withTimeout } from '@berth/testkit/timeout';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DriverMountsToken, type Engine } from '../src/index.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';
import { fuseOverlayfsTestDriverName, fuseOverlayfsTestStorage } from './support/fuse-overlayfs-storage.js';
import { busyboxTar, openTestEngine } from './support/test-engine.js';

// Containers whose root filesystem is a FUSE mount served by a mount helper (core's
// MountSpec.helper), real containers through the engine, twice: under storage-fuse, and
// under Debian's fuse-overlayfs behind a test driver (a helper that is a wrapper of
// another program, its server a child of the helper). The engine supervises each helper: stopped with its container,
// adopted by the next engine, and a helper that dies under a running container stops it.

/** The storage driver the suite runs on. */
interface DriverUnderTest {
  name: string;
  plugin: AnyPluginManifest;
}

const driversUnderTest: DriverUnderTest[] = [
  { name: 'fuse', plugin: fuse },
  { name: fuseOverlayfsTestDriverName, plugin: fuseOverlayfsTestStorage },
];

interface Scaffold {
  dir: string;
  readonly engine: Engine;
  /** Close the engine, as a crash would leave things: shims and mount helpers keep running. */
  stop(): Promise<void>;
  restart(): Promise<Engine>;
  rootfs(id: string): string;
  /** The mount helper's record for a container's rootfs (undefined when none is watched). */
  helper(id: string): { pid: number; startTime: number; program: string } | undefined;
  /** Every event the engines published. */
  events: EngineEvent[];
  /** What the engines logged at info and above, one line each (shown when a wait times out). */
  logs: string[];
}

let currentLogs: string[] = [];

async function withEngine(under: DriverUnderTest, fn: (t: Scaffold) => Promise<void>): Promise<void> {
  const dir = mkdtempSync('/tmp/berth-unit-mount-helpers-');
  let current: Engine | undefined;
  const events: EngineEvent[] = [];
  const logs: string[] = [];
  currentLogs = logs;
  const line =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void =>
      void logs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const logger: Logger = { debug() {}, info: line('info'), warn: line('warn'), error: line('error'), child: () => logger };
  const t: Scaffold = {
    dir,
    events,
    logs,
    get engine() {
      if (!current) throw new Error('the engine is stopped');
      return current;
    },
    async stop() {
      const engine = current;
      current = undefined;
      await engine?.close();
    },
    async restart() {
      await t.stop();
      current = await openTestEngine(dir, {
        plugins: [under.plugin, runc, none],
        storageDriver: under.name,
        logger,
      });
      current.events.on('event', (e) => events.push(e));
      return current;
    },
    rootfs: (id) => path.join(dir, 'data', 'containers', id, 'rootfs'),
    helper(id) {
      const entry = t.engine.di.resolve(DriverMountsToken).helperOf(t.rootfs(id));
      return entry?.pid === undefined ? undefined : { pid: entry.pid, startTime: entry.startTime!, program: entry.argv![0]! };
    },
  };
  try {
    await t.restart();
    await t.engine.images.load(createReadStream(busyboxTar));
    await fn(t);
  } finally {
    if (!current) await t.restart().catch(() => undefined);
    if (current) {
      for (const c of await current.containers.list({ all: true }))
        await current.containers.remove(c.Id, { force: true }).catch(() => undefined);
      await t.stop();
    }
    // A helper that died leaves its clean-up a moment more: storage-fuse's sentinel checks
    // the mount 0.2 s after the helper's death, then exits. Two seconds, then it is a leak.
    let left = leftoverHelpers(dir);
    for (const deadline = Date.now() + 2000; left.length > 0 && Date.now() < deadline; left = leftoverHelpers(dir)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const pid of left) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
    }
    removeAndAssertNoMounts(dir);
    assert.equal(left, [], 'no mount helper left running');
    const cgroupParent = `berth-unit-${path.basename(dir).slice(-6)}`;
    const cgroups = ['', ...readdirSync('/sys/fs/cgroup')].filter((h) => existsSync(path.join('/sys/fs/cgroup', h, cgroupParent)));
    assert.equal(cgroups, [], "no cgroup left (the helpers' included)");
  }
}

/**
 * Session leaders whose argv names, after the program, a mount point under `dir` (a
 * container's rootfs, or an operation's directory under the data root's tmp/): mount
 * helpers started for it (a shim, also a session leader, names bundles).
 */
function leftoverHelpers(dir: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const target = (a: string) => a.startsWith(`${dir}/`) && (a.endsWith('/rootfs') || a.startsWith(`${dir}/data/tmp/`));
      // libfuse's auto-unmount watcher (fusermount, a session of its own) goes with its helper.
      const watcher = path.basename(argv[0]!).startsWith('fusermount');
      if (fields[3] === name && fields[0] !== 'Z' && !watcher && argv.slice(1).some(target)) found.push(Number(name));
    } catch {}
  }
  return found;
}

function fstypeOf(target: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4] === target)
    .map((l) => l.split(' - ')[1]!.split(' ')[0]!);
}

function ledger(dir: string): string[] {
  try {
    return readdirSync(path.join(dir, 'exec', 'mount-helpers'));
  } catch {
    return [];
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the engine logged:\n${currentLogs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The process that serves a helper's mount: fuse-overlayfs under the test helper (the
 * wrapper's child), or the helper itself when it serves.
 */
function serverOf(helperPid: number): number {
  const children = readFileSync(`/proc/${helperPid}/task/${helperPid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
  return children.find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'fuse-overlayfs') ?? helperPid;
}

/** One FUSE mount on `target` (any FUSE filesystem type: the driver's). */
function assertOneFuseMount(target: string, message: string): void {
  const types = fstypeOf(target);
  assert.is(types.length, 1, `${message}: ${types.join(', ') || 'no mount'}`);
  assert.match(types[0]!, /^fuse(\.|$)/, message);
}

function readIfThere(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function logsOf(engine: Engine, id: string): Promise<string> {
  const { lines } = await engine.containers.logs(id, { stdout: true, stderr: true });
  let out = '';
  for await (const line of lines) out += line.data.toString();
  return out;
}

for (const under of driversUnderTest) {
  const test = suite(`mount helpers (${under.name})`);

  test(
    "a container's FUSE rootfs is served by a supervised helper from create to exit, and gone at stop and remove",
    withTimeout(30_000, () =>
      withEngine(under, async (t) => {
        const id = (await t.engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'echo hi > /probe; exec sleep 60'] })).Id;
        const created = t.helper(id);
        assert.ok(created, 'the created container holds its rootfs through a helper');
        assertOneFuseMount(t.rootfs(id), 'a FUSE rootfs');
        await t.engine.containers.start(id);
        assert.is(t.helper(id)?.pid, created!.pid, 'the start uses the mount create made');
        // Seen from the host through the same FUSE mount (its server answers both).
        await until('the container writes through FUSE', () => readIfThere(path.join(t.rootfs(id), 'probe')) === 'hi\n');
        await t.engine.containers.stop(id, 0);
        assert.not.ok(isSameProcess(created!.pid, created!.startTime), 'the helper is gone when stop returns');
        assert.not.ok(isMountPoint(t.rootfs(id)));
        assert.equal(ledger(t.dir), [], 'no helper record left');
        // A second run mounts again through a new helper; the file the first wrote is kept.
        await t.engine.containers.start(id);
        const second = t.helper(id);
        assert.ok(second && second.pid !== created!.pid);
        // The file the first run wrote is there; the second run writes it again (a truncate, then
        // the line), so it is read once that write is done.
        await until('the second run sees and writes the file', () => readIfThere(path.join(t.rootfs(id), 'probe')) === 'hi\n');
        await t.engine.containers.remove(id, { force: true });
        assert.not.ok(isSameProcess(second!.pid, second!.startTime));
        assert.equal(ledger(t.dir), []);
        assert.equal(t.engine.di.resolve(DriverMountsToken).helperCount, 0);
      }),
    ),
  );

  test(
    'a FUSE process killed under a running container: the container sees I/O errors, is stopped with the reason, nothing stays mounted',
    withTimeout(30_000, () =>
      withEngine(under, async (t) => {
        // Reads without a pause, so the failure is printed before the engine's kill arrives.
        // Each cat is a program loaded from the dead mount (SIGBUS: "Bus error"); the shell says so.
        const script = 'echo x > /probe; while :; do cat /probe > /dev/null || echo "read failed" >&2; done';
        const id = (await t.engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', script] })).Id;
        await t.engine.containers.start(id);
        await until('the container runs on its FUSE rootfs', () => existsSync(path.join(t.rootfs(id), 'probe')));
        const helper = t.helper(id)!;
        const exited = t.engine.containers.wait(id);
        // The whole helper (wrapper and server) killed: nothing of it unmounts the dead mount.
        process.kill(-helper.pid, 'SIGKILL');
        const status = await exited;
        // 137: killed by the engine; 135: SIGBUS first, a page of its program unreadable from the dead mount.
        assert.ok([135, 137].includes(status.StatusCode), `exit status ${status.StatusCode}`);
        await until('the error recorded', async () => (await t.engine.containers.inspect(id)).State.Error !== '');
        const state = (await t.engine.containers.inspect(id)).State;
        assert.is(state.Running, false);
        assert.ok(state.Error.startsWith(`mount helper ${helper.program} (pid ${helper.pid}) serving ${t.rootfs(id)} exited`), state.Error);
        assert.ok(
          t.events.some((e) => e.action === 'rootfs_lost' && e.id === id && e.attributes.error?.includes('mount helper')),
          'a rootfs_lost event',
        );
        if (status.StatusCode === 137)
          assert.match(await logsOf(t.engine, id), /Bus error\nread failed/, 'the container saw its reads fail');
        assert.not.ok(isMountPoint(t.rootfs(id)), 'the dead mount is gone');
        assert.equal(fstypeOf(t.rootfs(id)), []);
        assert.not.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes(t.dir), 'nothing mounted under the test directory');
        assert.equal(ledger(t.dir), []);
        // It starts again on a new helper, the error cleared.
        await t.engine.containers.start(id);
        assert.is((await t.engine.containers.inspect(id)).State.Error, '');
        assert.ok(t.helper(id));
      }),
    ),
  );

  test(
    "after the engine goes away, the next one adopts a running container's helper (not remounted), and notices its death",
    withTimeout(40_000, () =>
      withEngine(under, async (t) => {
        const script = 'while date > /tick && cat /tick > /dev/null; do usleep 100000; done; echo "read failed" >&2; exec sleep 60';
        const id = (await t.engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', script] })).Id;
        await t.engine.containers.start(id);
        await until('the container runs', () => existsSync(path.join(t.rootfs(id), 'tick')));
        const before = t.helper(id)!;
        await t.stop();
        await t.restart();
        assert.equal(t.helper(id), before, 'the same helper, adopted');
        assert.ok(isSameProcess(before.pid, before.startTime));
        assertOneFuseMount(t.rootfs(id), 'one mount: not mounted over');
        assert.ok((await t.engine.containers.inspect(id)).State.Running);
        const tick = readFileSync(path.join(t.rootfs(id), 'tick'), 'utf8');
        await until(
          'the container still writes through the adopted helper',
          () => readFileSync(path.join(t.rootfs(id), 'tick'), 'utf8') !== tick,
        );
        // Its death is noticed through the reopened lifeline: the server killed, the wrapper removes the mount and exits.
        const exited = t.engine.containers.wait(id);
        process.kill(serverOf(before.pid), 'SIGKILL');
        assert.ok([135, 137].includes((await exited).StatusCode));
        await until('the error recorded', async () => (await t.engine.containers.inspect(id)).State.Error !== '');
        assert.match((await t.engine.containers.inspect(id)).State.Error, /mount helper .* exited while it was in use/);
        assert.not.ok(isMountPoint(t.rootfs(id)));
        assert.equal(ledger(t.dir), []);
      }),
    ),
  );

  test(
    'a container that exited while no engine ran: the next engine stops its helper and unmounts; a created one keeps its helper',
    withTimeout(30_000, () =>
      withEngine(under, async (t) => {
        const short = (await t.engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '1'] })).Id;
        const waiting = (await t.engine.containers.create({ Image: 'busybox', Cmd: ['true'] })).Id;
        await t.engine.containers.start(short);
        const shortHelper = t.helper(short)!;
        const waitingHelper = t.helper(waiting)!;
        await t.stop();
        await new Promise((r) => setTimeout(r, 1500));
        await t.restart();
        const state = (await t.engine.containers.inspect(short)).State;
        assert.is(state.Status, 'exited');
        assert.not.ok(isSameProcess(shortHelper.pid, shortHelper.startTime), "the exited container's helper is stopped");
        assert.not.ok(isMountPoint(t.rootfs(short)));
        assert.equal(t.helper(waiting), waitingHelper, "the created container's helper is adopted");
        assert.ok(isMountPoint(t.rootfs(waiting)));
        await t.engine.containers.start(waiting);
        assert.is((await t.engine.containers.wait(waiting)).StatusCode, 0);
        assert.not.ok(isSameProcess(waitingHelper.pid, waitingHelper.startTime));
        assert.equal(ledger(t.dir), []);
      }),
    ),
  );

  test(
    'cp into a stopped container mounts its FUSE rootfs for the operation only, helper included',
    withTimeout(30_000, () =>
      withEngine(under, async (t) => {
        const id = (await t.engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'echo made > /made'] })).Id;
        await t.engine.containers.start(id);
        assert.is((await t.engine.containers.wait(id)).StatusCode, 0);
        assert.not.ok(isMountPoint(t.rootfs(id)));
        const changes = await t.engine.filesystems.changes(id);
        assert.ok(
          changes.some((c) => c.Path === '/made'),
          JSON.stringify(changes),
        );
        const exported: string[] = [];
        for await (const entry of readTar(await t.engine.filesystems.export(id))) {
          exported.push(entry.path);
          for await (const _ of entry.body);
        }
        assert.ok(exported.includes('made'), 'export read the FUSE-mounted root');
        // The export's stream ends before its unmount has finished waiting for the helper.
        await until('the export to unmount', () => ledger(t.dir).length === 0);
        assert.not.ok(isMountPoint(t.rootfs(id)), 'unmounted after the operation');
        assert.equal(leftoverHelpers(t.dir), []);
      }),
    ),
  );

  /** Run the engine in a process of its own (support/fuse-engine-child.ts) until `until` is printed; returns it and what it printed. */
  async function engineChild(t: Scaffold, mode: 'run' | 'churn', ready: RegExp) {
    const child = spawn(
      process.execPath,
      [
        '-r',
        'tsx/cjs',
        path.join(__dirname, 'support', 'fuse-engine-child.ts'),
        t.dir,
        `berth-unit-${path.basename(t.dir).slice(-6)}`,
        mode,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b;
    });
    const exited = new Promise((r) => child.once('exit', r));
    await until(`the engine child to print ${ready}`, () => ready.test(out) || child.exitCode !== null, 20_000);
    assert.ok(ready.test(out), `the child printed ${JSON.stringify(out)}`);
    return {
      out: () => out,
      async kill() {
        child.kill('SIGKILL');
        await exited;
      },
    };
  }

  /**
   * What must hold after any crash and the next engine's start: every helper still running
   * for this directory serves the rootfs of a container that is running or created and is
   * watched by the engine under its pid; every FUSE mount under the directory is one of
   * those and answers; the ledger holds exactly the watched helpers.
   */
  async function assertOnlyOwnedHelpers(t: Scaffold): Promise<void> {
    const mounts = t.engine.di.resolve(DriverMountsToken);
    const wanted = new Map<string, string>();
    for (const c of await t.engine.containers.list({ all: true })) {
      if (c.State === 'running' || c.State === 'created') wanted.set(t.rootfs(c.Id), c.Id);
    }
    for (const pid of leftoverHelpers(t.dir)) {
      // The target follows the helper's own arguments (`<helper…> <source> <target> -o …`).
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const target = argv.find((a) => a.startsWith(`${t.dir}/`) && a.endsWith('/rootfs')) ?? argv.find((a) => a.startsWith(`${t.dir}/`))!;
      assert.ok(wanted.has(target), `helper ${pid} serves ${target}, which no running or created container owns`);
      assert.is(mounts.helperOf(target)?.pid, pid, `helper ${pid} is watched`);
    }
    const fuseMounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(' - fuse') && l.split(' ')[4]!.startsWith(t.dir))
      .map((l) => l.split(' ')[4]!);
    for (const target of fuseMounts) {
      assert.ok(wanted.has(target), `${target} is mounted but no running or created container owns it`);
      assert.ok(mounts.helperOf(target), `${target} is served by a watched helper`);
      statSync(path.join(target, 'bin')); // a dead FUSE mount throws ENOTCONN
    }
    assert.is(ledger(t.dir).filter((f) => f.endsWith('.json')).length, mounts.helperCount, 'the ledger holds the watched helpers, no more');
    // And the other way: a running container's rootfs is served (adopted, never mounted again);
    // a created one's is served or not mounted at all (a start undone at recovery unmounts it,
    // and the next start mounts it again).
    for (const c of await t.engine.containers.list({ all: true })) {
      const target = t.rootfs(c.Id);
      if (c.State === 'created' && fstypeOf(target).length === 0) continue;
      if (c.State !== 'running' && c.State !== 'created') continue;
      const helper = mounts.helperOf(target);
      assert.ok(
        helper && isSameProcess(helper.pid!, helper.startTime!),
        `${c.State} container ${c.Id}'s rootfs is served by a live helper`,
      );
      assertOneFuseMount(target, `container ${c.Id}'s rootfs is mounted once`);
    }
  }

  test(
    "kill -9 of the engine's process: the running container's FUSE rootfs is still served, and the next engine adopts it",
    withTimeout(60_000, () =>
      withEngine(under, async (t) => {
        await t.stop();
        const child = await engineChild(t, 'run', /running \S+ \d+\n/);
        const [, id, pid] = /running (\S+) (\d+)/.exec(child.out())!;
        await child.kill();
        await until('the container to write its first tick', () => existsSync(path.join(t.rootfs(id!), 'tick')));
        const tick = readFileSync(path.join(t.rootfs(id!), 'tick'), 'utf8');
        await until(
          'the container to write through FUSE with no engine',
          () => readFileSync(path.join(t.rootfs(id!), 'tick'), 'utf8') !== tick,
        );
        await t.restart();
        assert.is(t.helper(id!)?.pid, Number(pid), 'the helper the dead engine started, adopted');
        assertOneFuseMount(t.rootfs(id!), 'not mounted over');
        assert.ok((await t.engine.containers.inspect(id!)).State.Running);
        await assertOnlyOwnedHelpers(t);
        await t.engine.containers.remove(id!, { force: true });
        assert.equal(leftoverHelpers(t.dir), []);
        assert.equal(ledger(t.dir), []);
      }),
    ),
  );

  test(
    'kill -9 of the engine at any point of create, start, stop and remove: the next engine leaves no helper or mount nothing owns',
    withTimeout(120_000, () =>
      withEngine(under, async (t) => {
        await t.stop();
        // Kills in the middle of the n-th operation of each round (a create, start, stop or
        // remove: mounts, helpers' starts and stops, records' writes), a few ms after it began.
        let ops = 0;
        for (let round = 0; round < 8; round++) {
          const child = await engineChild(t, 'churn', /ready\n/);
          const wanted = round + 1;
          await until(`operation ${wanted} to begin`, () => (child.out().match(/^op /gm) ?? []).length >= wanted, 20_000);
          await new Promise((r) => setTimeout(r, (round * 7) % 25));
          await child.kill();
          ops += (child.out().match(/^op /gm) ?? []).length;
          await t.restart();
          await assertOnlyOwnedHelpers(t);
          await t.stop();
        }
        await t.restart();
        const states = (await t.engine.containers.list({ all: true })).map((c) => c.State);
        assert.ok(ops >= 36, `operations begun before the kills: ${ops}`);
        assert.ok(states.length >= 1, `containers made before the kills: ${states.join(', ')}`);
      }),
    ),
  );

  test.run();
}
