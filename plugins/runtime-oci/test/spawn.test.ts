import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isBerthError } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OciRuntime, runcPlugin } from '../src/index.js';
import { Fixture } from './support/fixture.js';

/*
 * How the shim is started: posix_spawn through @berth/native with `--detach`, so the
 * shim is never a child (nor a zombie) of the daemon, and the failures of that path.
 */

const fx = new Fixture();
test.after(() => fx.cleanup());

/** [state, ppid] of a process, from /proc/<pid>/stat; null when it is gone. */
function procStat(pid: number): { state: string; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid) };
  } catch {
    return null;
  }
}

/**
 * This process's zombie children but tsx's esbuild service (the test runner's, which can be
 * a zombie for a moment): what a spawn left unreaped.
 */
function zombieChildren(): number[] {
  const stat = readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8');
  return stat
    .split(' ')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => procStat(pid)?.state === 'Z' && !readFileSyncOr(`/proc/${pid}/comm`).startsWith('esbuild'));
}

function readFileSyncOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function fakeShim(name: string, script: string): string {
  const file = path.join(fx.dir, name);
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
  return file;
}

function runtimeWith(shimPath: string, createTimeoutMs?: number): OciRuntime {
  return new OciRuntime({
    name: 'runc',
    binary: '/usr/sbin/runc',
    shimPath,
    stateRoot: path.join(fx.dir, 'exec', 'state'),
    createTimeoutMs,
  });
}

test('the shim is re-parented away from the daemon and never left a zombie of it', async () => {
  const runtime = (await runcPlugin.init(fx.context())) as OciRuntime;
  const id = fx.newId();
  await runtime.create(fx.request(id, ['sleep', '0.1']));
  const shim = fx.shimPid(id)!;
  assert.ok(shim > 0);
  assert.is.not(procStat(shim)?.ppid, process.pid, 'the shim is not our child');
  await runtime.start(id);
  assert.is((await runtime.wait(id)).exitCode, 0);
  await runtime.delete(id);
  assert.equal(zombieChildren(), []);
  const after = procStat(shim);
  assert.ok(after === null || after.state === 'Z' || after.ppid !== process.pid, 'the exited shim is not ours to reap');
});

test('a shim binary that cannot run is a SystemError naming it', async () => {
  const id = fx.newId();
  const missing = path.join(fx.dir, 'no-such-shim');
  try {
    await runtimeWith(missing).create(fx.request(id, ['true']));
    assert.unreachable('create succeeded');
  } catch (err) {
    assert.ok(isBerthError(err, 'SystemError'), String(err));
    assert.is((err as Error).message, `cannot run berth-shim ${missing}: ENOENT: no such file or directory, posix_spawn '${missing}'`);
  }
});

test('a shim that exits without a ready line: its exit status is in the error', async () => {
  const id = fx.newId();
  try {
    await runtimeWith(fakeShim('exit-2', 'exit 2')).create(fx.request(id, ['true']));
    assert.unreachable('create succeeded');
  } catch (err) {
    assert.ok(isBerthError(err, 'SystemError'), String(err));
    assert.is((err as Error).message, 'OCI runtime create failed: berth-shim exited without reporting (status 2)');
  }
  assert.equal(zombieChildren(), []);
});

test('a shim that never answers is killed by its recorded pid after the create timeout', async () => {
  const id = fx.newId();
  // Detaches like berth-shim (the first process exits), records its pid, then holds the ready pipe.
  const shim = fakeShim(
    'silent',
    'while [ "$1" != --state-dir ]; do shift; done; dir=$2\n' +
      'mkdir -p "$dir"\n' +
      'sh -c \'echo $$ > "$0/shim.pid"; exec sleep 30\' "$dir" &\n' +
      'while [ ! -s "$dir/shim.pid" ]; do sleep 0.01; done',
  );
  // A create that never gave up would fail this test by its time limit instead.
  try {
    await runtimeWith(shim, 300).create(fx.request(id, ['true']));
    assert.unreachable('create succeeded');
  } catch (err) {
    assert.ok(isBerthError(err, 'SystemError'), String(err));
    assert.match((err as Error).message, `container ${id}: no answer from berth-shim in 300 ms`);
  }
  const pid = Number(readFileSync(path.join(fx.stateDir(id), 'shim.pid'), 'utf8'));
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline && procStat(pid) && procStat(pid)!.state !== 'Z') await new Promise((r) => setTimeout(r, 10));
  const left = procStat(pid);
  assert.ok(left === null || left.state === 'Z', `the silent shim ${pid} was killed`);
});

test.run();
