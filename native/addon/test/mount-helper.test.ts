import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isSameProcess, type MountSpec, processStartTime } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isMountPoint, type MountHelperProcess, mountAll, mountAllAsync, stopMountHelper, unmountAll } from '../src/index.js';

// Debian's fuse-overlayfs behind the MountSpec.helper convention (ready on fd 3, SIGTERM).
const helperScript = path.resolve(__dirname, '../../../test/fixtures/fuse-overlayfs-helper.sh');

interface Layout {
  dir: string;
  target: string;
  log: string;
  spec: MountSpec;
  /** Every helper a test started, killed in the cleanup whatever happened. */
  started: MountHelperProcess[];
}

/** A lower dir holding `hello`, an upper and work dir, an empty target; removed afterwards, mounts and helpers too. */
async function withLayout(fn: (l: Layout) => Promise<void>): Promise<void> {
  const dir = mkdtempSync('/tmp/berth-unit-mount-helper-');
  const started: MountHelperProcess[] = [];
  try {
    for (const d of ['lower', 'upper', 'work', 'target']) mkdirSync(path.join(dir, d));
    writeFileSync(path.join(dir, 'lower', 'hello'), 'from the lower layer\n');
    const spec: MountSpec = {
      type: 'fuse.fuse-overlayfs',
      source: 'fuse-overlayfs',
      options: [`lowerdir=${dir}/lower`, `upperdir=${dir}/upper`, `workdir=${dir}/work`],
      helper: [helperScript],
    };
    await fn({ dir, target: path.join(dir, 'target'), log: path.join(dir, 'helper.log'), spec, started });
  } finally {
    for (const h of started) {
      try {
        process.kill(-h.pid, 'SIGKILL');
      } catch {}
    }
    unmountAll(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function gone(helper: MountHelperProcess, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isSameProcess(helper.pid, helper.startTime)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

function serverPid(helper: MountHelperProcess): number {
  // The wrapper's child: fuse-overlayfs, the process that serves the mount.
  const children = readFileSync(`/proc/${helper.pid}/task/${helper.pid}/children`, 'utf8').trim().split(' ');
  const server = children.map(Number).find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'fuse-overlayfs');
  assert.ok(server, `fuse-overlayfs under helper ${helper.pid}`);
  return server!;
}

test('a helper spec is mounted by its helper, which is supervised by pid and start time, and exits when unmounted', () =>
  withLayout(async (l) => {
    const spawned: number[] = [];
    const { helpers } = await mountAllAsync([l.spec], l.target, {
      logPath: l.log,
      onSpawn: (h) => {
        spawned.push(h.pid);
        l.started.push(h);
      },
    });
    assert.is(helpers.length, 1);
    const helper = helpers[0]!;
    assert.equal(spawned, [helper.pid], 'onSpawn saw the pid before ready');
    assert.is(helper.target, l.target);
    assert.equal(helper.argv, [helperScript, 'fuse-overlayfs', l.target, '-o', l.spec.options.join(',')]);
    assert.ok(isSameProcess(helper.pid, helper.startTime));
    assert.not.ok(isSameProcess(helper.pid, helper.startTime + 1), 'another start time is another process');
    // Its own session: a signal to its group reaches the server too.
    const stat = readFileSync(`/proc/${helper.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    assert.is(Number(fields[3]), helper.pid, 'session id is its pid');
    assert.ok(isMountPoint(l.target));
    assert.is(readFileSync(path.join(l.target, 'hello'), 'utf8'), 'from the lower layer\n');
    writeFileSync(path.join(l.target, 'new'), 'written through FUSE');
    assert.is(readFileSync(path.join(l.dir, 'upper', 'new'), 'utf8'), 'written through FUSE');
    unmountAll(l.target);
    assert.not.ok(isMountPoint(l.target));
    assert.ok(await gone(helper), 'the helper exits once its mount is unmounted');
  }));

test('stopMountHelper: SIGTERM unmounts and the helper exits', () =>
  withLayout(async (l) => {
    const { helpers } = await mountAllAsync([l.spec], l.target, { logPath: l.log, onSpawn: (h) => l.started.push(h) });
    await stopMountHelper(helpers[0]!);
    assert.not.ok(isSameProcess(helpers[0]!.pid, helpers[0]!.startTime));
    assert.not.ok(isMountPoint(l.target));
  }));

test('a server killed with SIGKILL: the helper removes the dead mount and exits', () =>
  withLayout(async (l) => {
    const { helpers } = await mountAllAsync([l.spec], l.target, { logPath: l.log, onSpawn: (h) => l.started.push(h) });
    process.kill(serverPid(helpers[0]!), 'SIGKILL');
    assert.ok(await gone(helpers[0]!), 'the helper exits');
    assert.not.ok(isMountPoint(l.target), 'no dead mount left behind');
  }));

test('a whole helper group killed with SIGKILL leaves a dead mount that unmountAll still finds and removes', () =>
  withLayout(async (l) => {
    const { helpers } = await mountAllAsync([l.spec], l.target, { logPath: l.log, onSpawn: (h) => l.started.push(h) });
    const server = serverPid(helpers[0]!);
    const serverProcess = { ...helpers[0]!, pid: server, startTime: processStartTime(server)! };
    process.kill(-helpers[0]!.pid, 'SIGKILL');
    assert.ok(await gone(helpers[0]!));
    // Once the server too has exited (its /dev/fuse closed), a request finds the connection
    // gone (ENOTCONN); one made while it was being torn down would be aborted instead.
    assert.ok(await gone(serverProcess));
    let code: string | undefined;
    try {
      readFileSync(path.join(l.target, 'hello'));
    } catch (err) {
      code = (err as NodeJS.ErrnoException).code;
    }
    assert.is(code, 'ENOTCONN', 'the mount is dead');
    assert.ok(isMountPoint(l.target), 'a dead FUSE mount is still seen as a mount point');
    unmountAll(l.target);
    assert.not.ok(isMountPoint(l.target));
  }));

test('a helper that exits before ready: the error names it, its status and its log; nothing is left', () =>
  withLayout(async (l) => {
    const bad: MountSpec = { ...l.spec, options: [`lowerdir=${l.dir}/missing`, `upperdir=${l.dir}/upper`, `workdir=${l.dir}/work`] };
    try {
      await mountAllAsync([bad], l.target, { logPath: l.log, onSpawn: (h) => l.started.push(h) });
      assert.unreachable('a helper that cannot mount must fail');
    } catch (err) {
      const message = (err as Error).message;
      assert.ok(message.includes(helperScript), message);
      assert.match(message, /exited before it was ready \(exit status [1-9]\d*\)/);
      assert.ok(message.includes(l.log), message);
      assert.match(message, /missing/, 'the log tail tells why');
    }
    assert.is(l.started.length, 1, 'it was started');
    assert.ok(await gone(l.started[0]!, 1000), 'the helper is gone');
    assert.not.ok(isMountPoint(l.target));
  }));

test('a helper that never says ready: killed at the timeout, the error says so, nothing is left', () =>
  withLayout(async (l) => {
    const script = path.join(l.dir, 'silent-helper.sh');
    // Mounts, then never writes ready.
    writeFileSync(script, `#!/bin/sh\nmount -t tmpfs tmpfs "$2"\necho mounted, not telling\nexec sleep 60\n`, { mode: 0o755 });
    const started = Date.now();
    try {
      await mountAllAsync([{ type: 'tmpfs', source: 'tmpfs', options: [], helper: [script] }], l.target, {
        logPath: l.log,
        readyTimeoutMs: 300,
        onSpawn: (h) => l.started.push(h),
      });
      assert.unreachable('must time out');
    } catch (err) {
      const message = (err as Error).message;
      assert.match(message, /not ready after 300 ms; killed by SIGKILL/);
      assert.match(message, /mounted, not telling/);
    }
    assert.ok(Date.now() - started < 3000);
    assert.ok(await gone(l.started[0]!, 1000));
    assert.not.ok(isMountPoint(l.target));
  }));

test('a helper program that does not exist, or a relative one: a clear error, nothing started', () =>
  withLayout(async (l) => {
    try {
      await mountAllAsync([{ ...l.spec, helper: [path.join(l.dir, 'nope')] }], l.target, { logPath: l.log });
      assert.unreachable();
    } catch (err) {
      assert.match((err as Error).message, /mount helper .*nope for .*: not started: spawn .*ENOENT/);
    }
    try {
      await mountAllAsync([{ ...l.spec, helper: ['fuse-overlayfs'] }], l.target, { logPath: l.log });
      assert.unreachable();
    } catch (err) {
      assert.match((err as Error).message, /want an absolute program path/);
    }
    assert.not.ok(isMountPoint(l.target));
  }));

test('the synchronous mountAll refuses a helper spec instead of mounting it by mount(2)', () =>
  withLayout(async (l) => {
    assert.throws(() => mountAll([l.spec], l.target), /performed by its helper .*use mountAllAsync/);
    assert.not.ok(isMountPoint(l.target));
  }));

test('mountAllAsync without helper specs mounts as mountAll does and returns no helpers', () =>
  withLayout(async (l) => {
    const { helpers } = await mountAllAsync([{ type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }], l.target, { logPath: l.log });
    assert.equal(helpers, []);
    assert.ok(isMountPoint(l.target));
    assert.not.ok(existsSync(l.log), 'no log without a helper');
  }));

test.run();
