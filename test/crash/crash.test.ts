import { suiteTimeout } from '@berth/testkit/timeout';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatReport, runCampaign } from './campaign';

/**
 * The bounded fault-injection campaign (README.md): berthd SIGKILLed at random instants and
 * on chosen lines of its debug log, under a mixed concurrent workload, restarted on the same
 * data root each time, every invariant checked after every restart. BERTH_CRASH_KILLS and
 * BERTH_CRASH_SECONDS change its size (defaults: 12 kills or 120 s); bench/crash-soak.ts
 * runs long ones.
 */
const test = suite('crash campaign');
suiteTimeout(test, 240_000);

test('berthd killed at random points: after every restart, every invariant holds', async () => {
  const report = await runCampaign({
    kills: Number(process.env.BERTH_CRASH_KILLS ?? 12),
    seconds: Number(process.env.BERTH_CRASH_SECONDS ?? 120),
    seed: process.env.BERTH_CRASH_SEED !== undefined ? Number(process.env.BERTH_CRASH_SEED) : undefined,
  });
  const text = formatReport(report);
  console.log(text);
  assert.ok(report.kills.length >= 3, `only ${report.kills.length} kill points exercised`);
  // Each violation once, at the kill after which it first appeared.
  const violations = [
    ...report.kills.flatMap((k) => k.fresh.map((v) => `kill ${k.n} (${k.point}): ${v.invariant}: ${v.subject}: ${v.detail}`)),
  ];
  violations.push(...report.final.map((v) => `final: ${v.invariant}: ${v.subject}: ${v.detail}`));
  violations.push(...report.leaks.map((l) => `after the clean stop: ${l}`));
  assert.equal(violations, [], `seed ${report.seed}: ${violations.length} violations (the report above has their context)`);
});

test.run();
