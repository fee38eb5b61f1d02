import * as path from 'node:path';
import { busyboxTar, sleep } from '../e2e/harness';
import { CrashDaemon, type KillTrigger } from './crash-daemon';
import { makeFixtures } from './fixtures';
import { InvariantChecker, type Violation } from './invariants';
import { readKernelView } from './kernel-view';
import { Ledger } from './ledger';
import { Random } from './random';
import { Workload } from './workload';

/**
 * Points in berthd's debug log worth dying at. Each line is printed right after the step
 * it names, so a kill on it lands between that step and the next.
 */
export const killTriggers: KillTrigger[] = [
  // The runtime created the container (runc init parked on its exec fifo); start comes next.
  { name: 'after runtime create', pattern: /msg="container created".*plugin=runtime\// },
  // The record of a new container was written; the CLI has not had its answer yet.
  { name: 'after create', pattern: /msg="container created" component=engine id=/ },
  // A start's endpoint (its address) was written ahead; the veth comes next.
  { name: 'during network attach', pattern: /msg="network endpoint recorded"/ },
  { name: 'after start', pattern: /msg="container started"/ },
  // An exit was recorded; --rm removal follows.
  { name: 'after exit', pattern: /msg="container exited"/ },
  { name: 'after remove', pattern: /msg="container removed"/ },
  // A removal started its endpoint's release in the background; the veth's deletion and the record's come next.
  { name: 'during endpoint release', pattern: /msg="network endpoint release started"/ },
  // The image side: a layer became a snapshot, an image was stored, named or deleted.
  { name: 'after layer unpack', pattern: /msg="layer unpacked"/ },
  // A load, import or commit wrote its record ahead; its images' metadata and names come next.
  { name: 'after image write-ahead', pattern: /msg="image operation written ahead"/ },
  { name: 'after image stored', pattern: /msg="image (loaded|imported)"/ },
  { name: 'after image delete', pattern: /msg="image deleted"/ },
];

/** Options of a campaign. */
export interface CampaignOptions {
  /** Stop after this many kills... */
  kills: number;
  /** ...or once this many seconds have passed, whichever comes first. */
  seconds: number;
  seed?: number;
  workers?: number;
  /** Print progress as it goes. */
  log?: (line: string) => void;
  /** Names the directory and cgroup parent (CrashDaemon); the default is the tests'. */
  prefix?: string;
  /** Once aborted, no further kill: the campaign goes on to its final check and report. */
  signal?: AbortSignal;
}

/** One kill of berthd and what the check after the restart found. */
export interface KillRecord {
  n: number;
  /** `random after N ms`, or the trigger's name. */
  point: string;
  /** The log line the kill landed on (trigger kills). */
  line?: string;
  inFlight: string[];
  /** Containers runc held `created` right after the kill (inits parked in runc init), not counted at an earlier kill. */
  parkedInits: number;
  /** Every violation the check after this kill found... */
  violations: Violation[];
  /** ...and those no earlier check had found (the rest persist from an earlier kill). */
  fresh: Violation[];
  logTail: string;
}

export interface CampaignReport {
  seed: number;
  kills: KillRecord[];
  /** Violations of the final check (after the workload stopped and berthd was restarted once more). */
  final: Violation[];
  /** What destroy() found left in the kernel after the last clean stop. */
  leaks: string[];
  operations: Workload['counts'];
  unexpected: Workload['unexpected'];
  seconds: number;
  dir: string;
}

/**
 * A fault-injection campaign: one isolated berthd, the busybox fixture and the workload's
 * fixtures loaded, the workload running; then, until `kills` or `seconds` is reached:
 * wait a random time or for a log trigger, SIGKILL berthd, let the operations in flight
 * fail, start berthd again on the same data root, check every invariant (retrying for a
 * few seconds while the results can still be settling: removals, shims draining), record
 * what still failed, resume. Then a final restart and check, a clean stop and the leak
 * check of the stopped daemon. Cleans up everything, pass or fail.
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const seed = options.seed ?? Date.now() % 2 ** 31;
  const random = new Random(seed);
  const log = options.log ?? (() => undefined);
  const began = Date.now();
  const d = new CrashDaemon('overlay', options.prefix);
  const kills: KillRecord[] = [];
  const seenViolations = new Set<string>();
  const seenParked = new Set<string>();
  let workload: Workload | undefined;
  let final: Violation[] = [];
  let leaks: string[] = [];
  try {
    const fixtures = await makeFixtures(path.join(d.dir, 'fixtures'));
    await d.start();
    const loaded = await d.docker(['load', '-i', busyboxTar]);
    if (loaded.code !== 0) throw new Error(`cannot load busybox: ${loaded.stderr}`);
    const busyboxId = (await d.docker(['image', 'inspect', '--format', '{{.Id}}', 'busybox:latest'])).stdout.trim();
    const ledger = new Ledger(busyboxId);
    const checker = new InvariantChecker(d, ledger);
    workload = new Workload(d, ledger, fixtures, random, options.workers ?? 3);
    log(`crash campaign: seed ${seed}, dir ${d.dir}, up to ${options.kills} kills or ${options.seconds} s`);
    workload.start();

    while (kills.length < options.kills && Date.now() - began < options.seconds * 1000 && !options.signal?.aborted) {
      let point: string;
      let line: string | undefined;
      if (random.next() < 0.5) {
        const trigger = random.pick(killTriggers)!;
        line = await d.killOn(trigger, 4000);
        point = line ? trigger.name : `random (no "${trigger.name}" within 4 s)`;
        if (!line) await d.kill();
      } else {
        const ms = random.int(100, 2500);
        await sleep(ms);
        point = `random after ${ms} ms`;
      }
      const inFlight = [...workload.inFlight].map((op) => `docker ${op.args.join(' ')} (${Date.now() - op.startedAt} ms)`);
      await d.kill();
      workload.crashes++;
      // Right after the kill, before anything recovers: how many inits were caught parked.
      let parkedInits = 0;
      for (const s of (await readKernelView(d)).runc) {
        if (s.status === 'created' && !seenParked.has(s.id)) {
          seenParked.add(s.id);
          parkedInits++;
        }
      }
      await workload.pause();
      await d.start();
      const violations = await settledCheck(checker, 2);
      const fresh = violations.filter((v) => !seenViolations.has(violationKey(v)));
      for (const v of fresh) seenViolations.add(violationKey(v));
      const record: KillRecord = { n: kills.length + 1, point, inFlight, parkedInits, violations, fresh, logTail: d.logTail(40) };
      if (line !== undefined) record.line = line;
      kills.push(record);
      log(
        `kill ${record.n}: ${point}; in flight ${inFlight.length}; new parked inits ${parkedInits}; violations ${violations.length} (${fresh.length} new)`,
      );
      for (const v of fresh) log(`  ✘ ${v.invariant}: ${v.subject}: ${v.detail}`);
      workload.resume();
    }

    await workload.stop();
    // A last restart with nothing in flight, and every image run.
    await d.kill();
    await d.start();
    final = await settledCheck(checker, Number.POSITIVE_INFINITY);
    for (const v of final) log(`  ✘ final ${v.invariant}: ${v.subject}: ${v.detail}`);
  } finally {
    await workload?.stop();
    leaks = await d.destroy();
  }
  return {
    seed,
    kills,
    final,
    leaks,
    operations: workload?.counts ?? ({} as Workload['counts']),
    unexpected: workload?.unexpected ?? [],
    seconds: Math.round((Date.now() - began) / 1000),
    dir: d.dir,
  };
}

/**
 * Check, and while something fails retry for a few seconds: removal of --rm containers
 * and of shims that drain their last output may still be under way after a restart.
 */
async function settledCheck(checker: InvariantChecker, runImages: number): Promise<Violation[]> {
  await sleep(300);
  const deadline = Date.now() + 6000;
  for (;;) {
    const violations = await checker.check({ runImages });
    if (!violations.length || Date.now() > deadline) return violations;
    await sleep(1000);
  }
}

function violationKey(v: Violation): string {
  return `${v.invariant}\0${v.subject}\0${v.detail}`;
}

/** The report as text: figures, then every violation (where it first appeared) with its reproduction context. */
export function formatReport(r: CampaignReport): string {
  const out: string[] = [];
  const byPoint = new Map<string, number>();
  for (const k of r.kills) {
    const key = k.point.startsWith('random') ? 'random' : k.point;
    byPoint.set(key, (byPoint.get(key) ?? 0) + 1);
  }
  const violated = r.kills.filter((k) => k.violations.length);
  const fresh = r.kills.filter((k) => k.fresh.length);
  const distinct = new Map<string, Violation>();
  for (const v of [...r.kills.flatMap((k) => k.fresh), ...r.final]) distinct.set(violationKey(v), v);
  out.push(
    `crash campaign (seed ${r.seed}, ${r.seconds} s): ${r.kills.length} kill points exercised, ${violated.length} followed by violations ` +
      `(${fresh.length} by new ones), ${distinct.size} distinct violations, ${r.final.length} in the final check, ${r.leaks.length} leaks after the clean stop`,
  );
  out.push(`  kill points: ${[...byPoint].map(([p, n]) => `${p} ×${n}`).join(', ')}`);
  out.push(`  inits caught parked in runc init by a kill: ${r.kills.reduce((s, k) => s + k.parkedInits, 0)}`);
  out.push(
    `  operations (ok/failed): ${Object.entries(r.operations)
      .map(([k, c]) => `${k} ${c.ok}/${c.failed}`)
      .join(', ')}`,
  );
  const tally = new Map<string, number>();
  for (const v of distinct.values()) tally.set(v.invariant, (tally.get(v.invariant) ?? 0) + 1);
  if (tally.size) out.push(`  distinct violations by invariant: ${[...tally].map(([i, n]) => `${i} ×${n}`).join(', ')}`);
  for (const k of fresh) {
    out.push('', `kill ${k.n} at ${k.point}${k.line ? `\n  on: ${k.line}` : ''}`);
    out.push(`  in flight: ${k.inFlight.length ? k.inFlight.join('; ') : 'nothing'}`);
    for (const v of k.fresh) out.push(`  ✘ ${v.invariant}: ${v.subject}: ${v.detail}`);
    if (k.violations.length > k.fresh.length) out.push(`  (and ${k.violations.length - k.fresh.length} still failing from earlier kills)`);
    out.push('  daemon log tail:', ...k.logTail.split('\n').map((l) => `    ${l}`));
  }
  if (r.final.length) {
    out.push('', 'final check (workload stopped, berthd restarted):');
    for (const v of r.final) out.push(`  ✘ ${v.invariant}: ${v.subject}: ${v.detail}`);
  }
  if (r.leaks.length) out.push('', `left after the clean stop: ${r.leaks.join(', ')}`);
  if (r.unexpected.length) {
    out.push('', `operations that failed with berthd up (not invariants; for the record): ${r.unexpected.length}`);
    for (const u of r.unexpected.slice(0, 20)) out.push(`  ${u.kind}: docker ${u.args.join(' ')}: ${u.stderr}`);
  }
  return out.join('\n');
}
