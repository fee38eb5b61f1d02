import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isSameProcess, processAlive, processStartTime, readProcStat } from '../src/index.js';

/** Resolves once `pid`'s state is `state` (a few seconds at most). */
async function reaches(pid: number, state: string): Promise<void> {
  for (let i = 0; i < 300 && readProcStat(pid)?.state !== state; i++) await new Promise((r) => setTimeout(r, 10));
  assert.is(readProcStat(pid)?.state, state);
}

test('its own process: parent, session and a start time that names it', () => {
  const own = readProcStat(process.pid);
  assert.ok(own);
  assert.is(own.ppid, process.ppid);
  assert.ok(own.startTime > 0);
  assert.is(processStartTime(process.pid), own.startTime);
  assert.ok(isSameProcess(process.pid, own.startTime));
  assert.not.ok(isSameProcess(process.pid, own.startTime + 1), 'another start time is another process');
  assert.ok(processAlive(process.pid));
});

test('a command name with spaces and parentheses; a session leader; a stopped process is the same; a reaped one is null', async () => {
  const dir = mkdtempSync('/tmp/berth-proc-stat-');
  // The kernel keeps the executable's name (15 bytes) as the command name, parentheses and all.
  const program = path.join(dir, 'a) b (c) 1 2 3');
  copyFileSync('/bin/sleep', program);
  const child = spawn(program, ['30'], { detached: true, stdio: 'ignore' });
  const pid = child.pid!;
  try {
    const stat = readProcStat(pid);
    assert.ok(stat);
    assert.is(stat.ppid, process.pid);
    assert.is(stat.session, pid, 'detached: it leads its own session');
    assert.is(stat.pgrp, pid);
    const started = stat.startTime;
    assert.ok(isSameProcess(pid, started));
    // Stopped, it still is the same process.
    process.kill(pid, 'SIGSTOP');
    await reaches(pid, 'T');
    assert.ok(isSameProcess(pid, started));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(pid, 'SIGKILL');
    await exited;
  } finally {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    rmSync(dir, { recursive: true, force: true });
  }
  assert.is(readProcStat(pid), null, 'reaped: no such process');
  assert.is(processStartTime(pid), null);
  assert.not.ok(processAlive(pid));
});

test('a zombie: known by its start time, not the same live process', async () => {
  // sh starts sleep and execs into a pause that never waits for it: sleep stays a zombie.
  const child = spawn('sh', ['-c', 'sleep 0 & exec sleep 30'], { stdio: 'ignore' });
  try {
    let zombie: number | undefined;
    for (let i = 0; i < 300 && zombie === undefined; i++) {
      for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
        try {
          if (readProcStat(name)?.ppid === child.pid && readFileSync(`/proc/${name}/comm`, 'utf8').trim() === 'sleep') {
            if (Number(name) !== child.pid && readProcStat(name)?.state === 'Z') zombie = Number(name);
          }
        } catch {
          // Gone meanwhile.
        }
      }
      if (zombie === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(zombie, 'a zombie child');
    const startTime = processStartTime(zombie);
    assert.ok(startTime && startTime > 0, 'a zombie still has its start time');
    assert.not.ok(isSameProcess(zombie, startTime), 'a zombie has exited');
    assert.not.ok(processAlive(zombie));
  } finally {
    child.kill('SIGKILL');
  }
});

test.run();
