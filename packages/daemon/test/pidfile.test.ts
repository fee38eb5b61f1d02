import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writePidfile } from '../src/index.js';

const dir = mkdtempSync('/tmp/berth-unit-daemon-pid-');
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a restart waits for the berthd the pid file names to finish exiting, then takes the file', async () => {
  const pidfile = join(dir, 'exiting.pid');
  const exiting = spawn('sleep', ['0.6'], { stdio: 'ignore' });
  try {
    writeFileSync(pidfile, `${exiting.pid}\n`);
    const waits: number[] = [];
    await writePidfile(pidfile, { serving: async () => false, onWait: (pid) => waits.push(pid) });
    assert.equal(waits, [exiting.pid], 'the operator is told once what start-up waits for');
    assert.is(exiting.exitCode ?? exiting.signalCode, 0);
    assert.is(readFileSync(pidfile, 'utf8'), `${process.pid}\n`);
  } finally {
    exiting.kill('SIGKILL');
  }
});

test('a zombie (exited, not yet reaped) is not alive', async () => {
  // The shell's background child exits a moment later, once the shell has become `sleep 5`,
  // which never reaps it (a child exiting at once could be reaped by the shell itself before
  // its exec, as happened on a loaded machine).
  const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const zombie = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (d) => resolve(String(d)))));
    let state = '';
    for (let i = 0; i < 400 && state !== 'Z'; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const stat = readFileSync(`/proc/${zombie}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    }
    assert.is(state, 'Z', 'the child is a zombie');
    assert.is(processAlive(zombie), false);
    assert.is(processAlive(parent.pid!), true);
    const pidfile = join(dir, 'zombie.pid');
    writeFileSync(pidfile, `${zombie}\n`);
    await writePidfile(pidfile, { exitWaitMs: 100 });
    assert.is(readFileSync(pidfile, 'utf8'), `${process.pid}\n`);
  } finally {
    parent.kill('SIGKILL');
  }
});

test.run();
