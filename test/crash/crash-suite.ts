import { suiteTimeout } from '@berth/testkit/timeout';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { busyboxTar } from '../e2e/harness';
import { CrashDaemon } from './crash-daemon';
import { InvariantChecker } from './invariants';
import { Ledger } from './ledger';

/** What every test of a `crashSuite` gets: the suite's daemon and an invariant checker for it. */
export interface CrashSuiteContext {
  d: CrashDaemon;
  checker: InvariantChecker;
}

/**
 * A suite of targeted crash tests on one CrashDaemon of its own (overlay): before them,
 * the daemon started with busybox loaded and an InvariantChecker over it; after them, the
 * daemon destroyed, and the suite fails if anything of it leaked. Each test and hook has
 * `timeoutMs` (a test kills and restarts berthd, which takes seconds).
 */
export function crashSuite(name: string, timeoutMs = 60_000) {
  const test = suite<CrashSuiteContext>(name);
  suiteTimeout(test, timeoutMs);
  test.before(async (ctx) => {
    ctx.d = new CrashDaemon('overlay');
    try {
      await ctx.d.start();
      const loaded = await ctx.d.docker(['load', '-i', busyboxTar]);
      assert.is(loaded.code, 0, loaded.stderr);
      const id = (await ctx.d.docker(['image', 'inspect', '--format', '{{.Id}}', 'busybox'])).stdout.trim();
      ctx.checker = new InvariantChecker(ctx.d, new Ledger(id));
    } catch (err) {
      console.error(`${name}: set-up failed:`, err, ctx.d.logTail(40));
      throw err;
    }
  });
  test.after(async (ctx) => {
    const leaks = await ctx.d.destroy();
    assert.equal(leaks, [], `leaked: ${leaks.join(', ')}`);
  });
  return test;
}
