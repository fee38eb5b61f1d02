import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { cgroupDirs, mountsUnder, sleep } from '../e2e/harness';
import type { CrashDaemon } from './crash-daemon';
import { crashSuite } from './crash-suite';
import type { InvariantChecker } from './invariants';
import { processState } from './kernel-view';

/**
 * The crash of a shim (`kill -9` of one berth-shim of this suite's own daemon, found
 * through that daemon's exec root): the container is reported exited with status 255, and
 * nothing of it is left — its process, its cgroup, its rootfs mount, its runtime state.
 * Once with berthd watching, once while berthd is down (adoption finds the shim gone).
 */
const test = crashSuite('shim crash');

/** Start a container, SIGKILL its shim (by the pid in our exec root), return its id and process. */
async function runAndKillShim(d: CrashDaemon, name: string, beforeKill?: () => Promise<void>): Promise<{ id: string; pid: number }> {
  const run = await d.docker(['run', '-d', '--name', name, 'busybox', 'sleep', '3600']);
  assert.is(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  const pid = Number((await d.docker(['inspect', '-f', '{{.State.Pid}}', id])).stdout.trim());
  assert.ok(pid > 0 && processState(pid), `the container's process ${pid} runs`);
  const shimPid = Number(readFileSync(path.join(d.execRoot, 'c', id.slice(0, 32), 'shim.pid'), 'utf8').trim());
  const cmdline = readFileSync(`/proc/${shimPid}/cmdline`, 'utf8');
  // Only ever kill a shim of our own daemon: its arguments name our directory and this id.
  assert.ok(
    cmdline.includes('berth-shim') && cmdline.includes(d.dir) && cmdline.includes(id),
    `pid ${shimPid} is not our shim: ${cmdline}`,
  );
  await beforeKill?.();
  process.kill(shimPid, 'SIGKILL');
  return { id, pid };
}

/** Wait until berthd reports the container exited, and check nothing of it is left. */
async function assertCleanExit(d: CrashDaemon, checker: InvariantChecker, id: string, pid: number): Promise<void> {
  let state = '';
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    state = (await d.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', id])).stdout.trim();
    if (state.startsWith('exited') && !processState(pid) && !cgroupDirs(path.join(d.cgroupParent, id)).length) break;
    await sleep(200);
  }
  assert.is(state, 'exited 255', 'a container whose shim died is reported exited with status 255');
  const proc = processState(pid);
  assert.ok(!proc || proc.state === 'Z', `its process ${pid} is gone (${proc?.comm} ${proc?.state})`);
  assert.equal(cgroupDirs(path.join(d.cgroupParent, id)), [], 'its cgroups are gone');
  assert.equal(mountsUnder(path.join(d.dataRoot, 'containers', id)), [], 'its rootfs is unmounted');
  assert.not.ok(existsSync(path.join(d.runcRoot, id)), 'runc holds no state for it');
  const violations = await checker.check({ runImages: 0 });
  assert.equal(violations, [], 'every invariant holds');
  const rm = await d.docker(['rm', id]);
  assert.is(rm.code, 0, rm.stderr);
}

test('kill -9 of a shim while berthd watches: exited 255, nothing left', async ({ d, checker }) => {
  const { id, pid } = await runAndKillShim(d, 'shim-victim');
  try {
    await assertCleanExit(d, checker, id, pid);
  } catch (err) {
    console.error(d.logTail(30));
    throw err;
  }
});

test('kill -9 of a shim while berthd is down: the restarted berthd reports exited 255, nothing left', async ({ d, checker }) => {
  const { id, pid } = await runAndKillShim(d, 'shim-victim-offline', () => d.kill());
  await sleep(200);
  await d.start();
  try {
    await assertCleanExit(d, checker, id, pid);
  } catch (err) {
    console.error(d.logTail(30));
    throw err;
  }
});

test.run();
