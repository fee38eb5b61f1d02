// `berth run --rm busybox true`, end to end through the CLI and berthd, median of N runs;
// the same through the docker CLI against berthd (the daemons compared with one client);
// and, when a Docker engine is installed, `docker run --rm busybox true` interleaved
// (A B C A B C) in the same run, on a dockerd this script starts and stops by its pid.
// Also: the resident memory of an idle berth-shim. Prints figures, asserts nothing.
// BERTH_BENCH_BASELINE=<another built checkout> adds its berthd and CLI to the same
// interleaved run (before/after figures of a change, side by side with dockerd).
'use strict';
const { execFileSync } = require('node:child_process');
const { median, runBench, shimRssKiB, startBerthd, startDockerd, timeOnce } = require('./support.js');
const fs = require('node:fs');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const runs = Number(process.argv[2] || 20);
const dir = fs.mkdtempSync('/tmp/berth-bench-');
const busybox = path.join(repo, 'test/fixtures/.cache/busybox.tar');
const started = [];

async function main() {
  const berthd = await startBerthd(dir, started, { cgroupParent: 'berth-bench', logLevel: 'debug' });
  const berthEnv = berthd.berthEnv;
  const berth = path.join(repo, 'bin/berth');
  execFileSync(berth, ['load', '-q', '-i', busybox], { env: { ...process.env, ...berthEnv } });
  // Docker as installed, with its default bridge and firewall rules: what the targets are quoted against.
  // BERTH_BENCH_NO_DOCKERD=1: berth alone (a dockerd on its default bridge changes the host's firewall, which a shared machine may not allow).
  const dockerEnv = process.env.BERTH_BENCH_NO_DOCKERD ? undefined : (await startDockerd(dir, started, { network: 'default' }))?.env;
  if (dockerEnv) execFileSync('docker', ['load', '-q', '-i', busybox], { env: { ...process.env, ...dockerEnv } });
  const baselineRepo = process.env.BERTH_BENCH_BASELINE ? path.resolve(process.env.BERTH_BENCH_BASELINE) : undefined;
  const baseline = baselineRepo
    ? await startBerthd(dir, started, { cgroupParent: 'berth-bench', logLevel: 'debug', repo: baselineRepo, tag: 'baseline' })
    : undefined;
  if (baseline) {
    execFileSync(baseline.berth, ['load', '-q', '-i', busybox], { env: { ...process.env, ...baseline.berthEnv } });
    timeOnce(baseline.berth, ['run', '--rm', 'busybox', 'true'], baseline.berthEnv);
    timeOnce('docker', ['run', '--rm', 'busybox', 'true'], baseline.env);
  }

  // Warm both up once (page cache, first layer unpack).
  timeOnce(berth, ['run', '--rm', 'busybox', 'true'], berthEnv);
  timeOnce('docker', ['run', '--rm', 'busybox', 'true'], berthd.env);
  if (dockerEnv) timeOnce('docker', ['run', '--rm', 'busybox', 'true'], dockerEnv);
  // Interleaved, A B C A B C, so the machine's noise falls on all of them alike.
  const b = [];
  const bd = [];
  const d = [];
  const dn = [];
  const bn = [];
  const before = [];
  const beforeDocker = [];
  for (let i = 0; i < runs; i++) {
    if (baseline) before.push(timeOnce(baseline.berth, ['run', '--rm', 'busybox', 'true'], baseline.berthEnv));
    if (baseline) beforeDocker.push(timeOnce('docker', ['run', '--rm', 'busybox', 'true'], baseline.env));
    b.push(timeOnce(berth, ['run', '--rm', 'busybox', 'true'], berthEnv));
    bn.push(timeOnce(berth, ['run', '--rm', '--network', 'none', 'busybox', 'true'], berthEnv));
    bd.push(timeOnce('docker', ['run', '--rm', 'busybox', 'true'], berthd.env));
    if (dockerEnv) d.push(timeOnce('docker', ['run', '--rm', 'busybox', 'true'], dockerEnv));
    if (dockerEnv) dn.push(timeOnce('docker', ['run', '--rm', '--network', 'none', 'busybox', 'true'], dockerEnv));
  }

  execFileSync(berth, ['run', '-d', '--name', 'idle', 'busybox', 'sleep', '300'], { env: { ...process.env, ...berthEnv } });
  await new Promise((r) => setTimeout(r, 500));
  const rss = shimRssKiB(dir);
  execFileSync(berth, ['rm', '-f', 'idle'], { env: { ...process.env, ...berthEnv } });

  const line = (label, xs) =>
    console.log(
      `${label.padEnd(46)} median ${median(xs).toFixed(1)} ms  (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, n=${xs.length})`,
    );
  line(`berth run --rm busybox true${process.env.BERTH_BENCH_RUNTIME ? ` (${process.env.BERTH_BENCH_RUNTIME})` : ''}`, b);
  line('  the same with --network none', bn);
  line('docker CLI run --rm against berthd', bd);
  console.log(
    `  berth's default network is bridge (a bridge of the bench's own); the bridge costs ${(median(b) - median(bn)).toFixed(1)} ms a run`,
  );
  if (dockerEnv) {
    line('docker run --rm busybox true (default bridge)', d);
    line('docker run --rm --network none busybox true', dn);
    console.log(`ratio berth / docker, both on their default bridge ${(median(b) / median(d)).toFixed(2)}x  (target <= 0.3x)`);
    console.log(`ratio docker CLI on berthd / docker default    ${(median(bd) / median(d)).toFixed(2)}x`);
    console.log(`ratio berth / docker --network none            ${(median(b) / median(dn)).toFixed(2)}x`);
  } else {
    console.log(
      process.env.BERTH_BENCH_NO_DOCKERD
        ? 'docker: not started (BERTH_BENCH_NO_DOCKERD)'
        : 'docker: no Docker engine installed (apt-get install docker.io to compare)',
    );
  }
  if (baseline) {
    console.log(`baseline (BERTH_BENCH_BASELINE=${baselineRepo}), in the same interleaved run:`);
    line('  baseline berth run --rm busybox true', before);
    line('  baseline docker CLI run --rm against its berthd', beforeDocker);
    if (dockerEnv) {
      console.log(
        `  ratio to docker default: berth CLI ${(median(before) / median(d)).toFixed(2)}x -> ${(median(b) / median(d)).toFixed(2)}x, ` +
          `docker CLI ${(median(beforeDocker) / median(d)).toFixed(2)}x -> ${(median(bd) / median(d)).toFixed(2)}x`,
      );
    }
    printDaemonPhases(fs.readFileSync(baseline.log, 'utf8'), before.length + beforeDocker.length, '  baseline ');
  }
  console.log(
    `idle berth-shim RSS                    ${rss === undefined ? 'not found' : `${(rss / 1024).toFixed(2)} MiB`}  (target < 2 MiB)`,
  );
  printDaemonPhases(fs.readFileSync(berthd.log, 'utf8'), b.length + bn.length + bd.length);
}

/**
 * Where berthd's share of the timed runs went, from its debug log (the engine's
 * `container created/started/exited/removed` and `network endpoint attached/released`
 * lines): medians over the last `n` --rm containers. Exit seen: from the start's reply to
 * the exit's processing (the container's run, the shim's report); the rest of a run is the
 * CLI's (Node's start, the requests). Attach is inside start; release (the endpoint's
 * detach, the driver's share apart) is inside remove unless it runs after the removal.
 */
function printDaemonPhases(log, n, prefix = '') {
  const byId = new Map();
  for (const line of log.split('\n')) {
    const m =
      /time="([^"]+)" level=debug msg="(container|network endpoint) (created|started|exited|removed|attached|released)" component=engine (.*)$/.exec(
        line,
      );
    if (!m) continue;
    const fields = Object.fromEntries([...m[4].matchAll(/(\w+)=(\S+)/g)].map(([, k, v]) => [k, v]));
    if (!fields.id || fields.runtime) continue;
    const entry = byId.get(fields.id) ?? {};
    entry[m[3]] = { at: Date.parse(m[1]), ...fields };
    byId.set(fields.id, entry);
  }
  const runs = [...byId.values()].filter((e) => e.created && e.started && e.exited && e.removed).slice(-n);
  if (runs.length === 0) return;
  const phase = (f) => median(runs.map(f)).toFixed(1);
  console.log(
    `${prefix}berthd phases (median of ${runs.length}, ms): create ${phase((e) => Number(e.created.ms))}, ` +
      `start ${phase((e) => Number(e.started.ms))} (runtime create ${phase((e) => Number(e.started.create))}), ` +
      `exit seen ${phase((e) => e.exited.at - e.started.at)}, remove ${phase((e) => Number(e.removed.ms))}`,
  );
  const bridged = runs.filter((e) => e.attached?.network === 'bridge' && e.released);
  if (bridged.length === 0) return;
  const of = (f) => median(bridged.map(f)).toFixed(1);
  console.log(
    `${prefix}bridge endpoint (median of ${bridged.length}, ms): attach ${of((e) => Number(e.attached.ms))} ` +
      `(record ${of((e) => Number(e.attached.recordMs))}), release ${of((e) => Number(e.released.ms))} ` +
      `(driver ${of((e) => Number(e.released.driverMs))}), released after the removal was reported in ` +
      `${bridged.filter((e) => e.released.at > e.removed.at).length} of ${bridged.length}`,
  );
}

runBench(main, started, dir);
