import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { withTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

// The fixture is run in a uvu of its own, as scripts/run-tests.js runs a suite, with a
// default limit of 300 ms so that it takes about a second.
function runFixture(): { status: number | null; signal: NodeJS.Signals | null; out: string } {
  const r = spawnSync('uvu', ['-r', 'tsx/cjs', '-r', '@berth/testkit/timeout', 'test/fixtures', 'hang\\.fixture\\.ts$'], {
    cwd: path.join(__dirname, '..'),
    env: { ...process.env, BERTH_TEST_TIMEOUT_MS: '300', FORCE_COLOR: '0' },
    encoding: 'utf8',
    // Only if the mechanism is broken: the fixture would hang for ever.
    timeout: 20_000,
    killSignal: 'SIGKILL',
  });
  return { status: r.status, signal: r.signal, out: stripVTControlCharacters(`${r.stdout}${r.stderr}`) };
}

test(
  'a hanging test fails within its limit, named, and the suite carries on and exits',
  withTimeout(25_000, () => {
    const r = runFixture();
    // It ended by itself (not by the SIGKILL above) although the hung test still holds an interval.
    assert.is(r.signal, null, r.out);
    assert.is(r.status, 1, r.out);
    assert.match(r.out, 'timed out after 300 ms: hang.fixture.ts > hangs forever');
    // The per-suite limit names the suite; the hook's timeout is printed although uvu swallows it.
    assert.match(r.out, 'timed out after 250 ms: slow suite > waits longer than its suite allows');
    assert.match(r.out, 'timed out after 300 ms: stuck hook > before');
    // passes, the test given 800 ms by withTimeout, and the test after the hang.
    assert.match(r.out, /Total:\s+6\b/);
    assert.match(r.out, /Passed:\s+3\b/);
    // The failure points at the line that registered the test.
    assert.match(r.out, /hang\.fixture\.ts:\d+/);
  }),
);

test('withTimeout marks the handler it returns and changes nothing else', async () => {
  let ran = 0;
  const handler = async () => {
    ran += 1;
  };
  const marked = withTimeout(1234, handler);
  assert.is(marked, handler);
  await marked();
  assert.is(ran, 1);
  assert.is((marked as unknown as Record<symbol, number>)[Symbol.for('berth.test-timeout')], 1234);
});

test.run();
