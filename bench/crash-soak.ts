// A long fault-injection run of berthd: the crash campaign of test/crash for as many
// kills or seconds as asked (test/crash/README.md says what it kills and checks).
// From the repository root, after `npm run build`:
//   NODE_OPTIONS=--conditions=@berth/source node -r tsx/cjs bench/crash-soak.ts [--kills N] [--seconds S] [--seed X] [--workers W] [--report FILE] [--prefix P]
// Defaults: 200 kills or 1800 s; SIGINT or SIGTERM ends it after the kill under way, with
// its report. --prefix names its directory and cgroup parent (default berth-e2e-crash,
// which `npm test`'s machine leak check counts as a leak: a soak running beside the tests
// takes another, e.g. berth-soak). Prints progress, then the report; exits 1 when an
// invariant was violated or something leaked.
import { writeFileSync } from 'node:fs';
import { formatReport, runCampaign } from '../test/crash/campaign';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  // SIGINT/SIGTERM end the soak after the kill under way: final check, clean stop, report.
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
  const report = await runCampaign({
    signal: stop.signal,
    kills: Number(flag('kills') ?? 200),
    seconds: Number(flag('seconds') ?? 1800),
    seed: flag('seed') !== undefined ? Number(flag('seed')) : undefined,
    workers: flag('workers') !== undefined ? Number(flag('workers')) : undefined,
    log: (line) => console.log(line),
    prefix: flag('prefix'),
  });
  const text = formatReport(report);
  console.log(`\n${text}`);
  const file = flag('report');
  if (file) writeFileSync(file, `${text}\n`);
  const bad = report.kills.some((k) => k.violations.length) || report.final.length > 0 || report.leaks.length > 0;
  process.exit(bad ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
