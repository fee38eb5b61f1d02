import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { withTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

interface Suite {
  name: string;
  cwd: string;
  dir: string;
  pattern?: string;
  limitMs?: number;
  env?: Record<string, string>;
}

// run-tests.js is plain CommonJS; runSuite is what its main loop calls for each job (one
// uvu process), jobsOf how it cuts a suite into jobs.
const { runSuite, jobsOf, testFiles } = require('../run-tests.js') as {
  runSuite(suite: Suite): Promise<{
    passed: number;
    failed: number;
    ok: boolean;
    line: string;
    out: string;
    files: Array<[string, number]>;
  }>;
  jobsOf(suite: Suite): Array<{ pattern: string | undefined; weight: number; label: string }>;
  testFiles(suite: Suite): Array<{ name: string; bytes: number }>;
};

const root = path.join(__dirname, '..', '..');

/** Whether `pid` still runs: a zombie (killed, not yet reaped by init, its new parent) does not. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

test(
  'a suite that never exits is killed at its wall-clock limit with its children, counted failed, its output kept',
  withTimeout(20_000, async () => {
    const dir = mkdtempSync('/tmp/berth-unit-runner-');
    const pidFile = path.join(dir, 'sleep.pid');
    let sleeper = 0;
    try {
      const r = await runSuite({
        name: 'never-exits',
        cwd: root,
        dir: 'scripts/test/fixtures',
        pattern: 'never-exits\\.fixture\\.ts$',
        limitMs: 3000,
        env: { BERTH_FIXTURE_PID_FILE: pidFile },
      });
      assert.ok(existsSync(pidFile), `the fixture did not run:\n${r.out}`);
      sleeper = Number(readFileSync(pidFile, 'utf8'));
      assert.is(r.ok, false);
      assert.is(r.passed, 1);
      assert.ok(r.failed >= 1);
      assert.match(r.line, 'never-exits: killed after its wall-clock limit of 3 s');
      assert.match(r.out, /Passed:\s+1/);
      // The group was killed: the sleep the suite started is gone.
      assert.not.ok(alive(sleeper), `sleep ${sleeper} survived its suite`);
    } finally {
      if (sleeper && alive(sleeper)) process.kill(sleeper, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);

test(
  'a suite that passes is reported with its count',
  withTimeout(20_000, async () => {
    const r = await runSuite({
      name: 'hang-free',
      cwd: path.join(root, 'packages/testkit'),
      dir: 'test',
      pattern: 'storage-case\\.test\\.ts$',
    });
    assert.is(r.ok, true, r.out);
    assert.is(r.failed, 0);
    assert.ok(r.passed > 0);
    assert.match(r.line, /^✔ hang-free: \d+ passed/);
    // The file's time, from @berth/testkit/timeout's line, taken out of the output.
    assert.equal(
      r.files.map(([file]) => file),
      ['storage-case.test.ts'],
    );
    assert.ok(r.files[0]![1] >= 0);
    assert.not.match(r.out, 'berth-test-file-times');
  }),
);

test('a suite split into jobs runs each of its files in exactly one job', () => {
  for (const [name, dir, cwd] of [
    ['test/e2e', 'test/e2e', root],
    ['test/crash', 'test/crash', root],
    ['packages/engine', 'test', path.join(root, 'packages/engine')],
  ] as const) {
    const suite = { name, dir, cwd };
    const files = testFiles(suite).map((f) => f.name);
    assert.ok(files.length > 3, `${name} has test files`);
    const jobs = jobsOf(suite);
    assert.ok(jobs.length > 1, `${name} is split`);
    const ran = files.map((file) => jobs.filter((j) => new RegExp(j.pattern!, 'i').test(file)).length);
    assert.equal(
      ran,
      files.map(() => 1),
      `${name}: each file in one job`,
    );
    assert.ok(
      jobs.every((j) => j.weight > 0),
      'every job has a weight to be queued by',
    );
  }
  // A suite not split is one job over its whole directory.
  const whole = jobsOf({ name: 'packages/core', dir: 'test', cwd: path.join(root, 'packages/core') });
  assert.is(whole.length, 1);
  assert.is(whole[0]!.pattern, undefined);
});

test.run();
