// `docker exec <running container> true` through the real docker CLI against berthd,
// median of N runs; and, when a Docker engine is installed, the same against a dockerd
// this script starts (its own data root; the host's firewall restored after; stopped by
// its pid), interleaved A B A B in the same run, with the ratio. Also: the resident
// memory of an exec's berth-shim; and the docker CLI's own share of an exec, timed against
// a stand-in daemon that answers at once with berthd's own answers
// (bench/instant-exec-daemon.js), in blocks beside the daemons'. Prints figures, asserts
// nothing.
// Usage: node bench/exec.js [runs]   (house style: bench/run-true.js)
// BERTH_BENCH_BASELINE=<another built checkout>: its berthd too, in the same interleaved
// run (a change's before and after, each with its ratio to dockerd). Also `berth exec
// target true` (berth's own CLI) against the same berthd, interleaved.
// Also in blocks (each daemon's execs one after another, in a rotating order): what a user
// running execs against one daemon sees, without the other daemon's work after its own
// exec in the measurement.
// BERTH_BENCH_FRESH=<n> (default 10): also a container's first exec, in n fresh containers
// (berthd has no spare monitor for it yet), interleaved with dockerd's; 0 to skip.
// BERTH_BENCH_WARMUP=<n> (default 1): execs on each daemon before the timed runs. A daemon
// that has served a few hundred is in its steady state (berthd's JIT has then optimized
// its request path: 2-3 ms less per exec here), as a daemon that has been up a while is.
// BERTH_BENCH_RUNTIME=runc|crun: berthd's default runtime (else the engine's own choice) (bench/run-true.js and run-d.js too)
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const { median, runBench, shimRssKiB, startBerthd, startDockerd, timeOnce } = require('./support.js');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const runs = Number(process.argv[2] || 20);
const dir = fs.mkdtempSync('/tmp/berth-bench-');
const busybox = path.join(repo, 'test/fixtures/.cache/busybox.tar');
const started = [];

async function main() {
  const berthd = await startBerthd(dir, started, { cgroupParent: 'berth-bench' });
  const berthEnv = berthd.env;
  const docker = (env, args) => execFileSync('docker', args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  docker(berthEnv, ['load', '-q', '-i', busybox]);
  docker(berthEnv, ['run', '-d', '--name', 'target', 'busybox', 'sleep', '3000']);
  // Docker as installed, with its default bridge and firewall rules: what the targets are quoted against.
  const dockerEnv = (await startDockerd(dir, started, { network: 'default' }))?.env;
  if (dockerEnv) execFileSync('docker', ['load', '-q', '-i', busybox], { env: { ...process.env, ...dockerEnv } });
  if (dockerEnv) docker(dockerEnv, ['run', '-d', '--name', 'target', 'busybox', 'sleep', '3000']);
  const baselineRepo = process.env.BERTH_BENCH_BASELINE ? path.resolve(process.env.BERTH_BENCH_BASELINE) : undefined;
  const baselineEnv = baselineRepo
    ? (await startBerthd(dir, started, { cgroupParent: 'berth-bench', repo: baselineRepo, tag: 'baseline' })).env
    : undefined;
  if (baselineEnv) docker(baselineEnv, ['load', '-q', '-i', busybox]);
  if (baselineEnv) docker(baselineEnv, ['run', '-d', '--name', 'target', 'busybox', 'sleep', '3000']);

  // The CLI's own share: the same command against a daemon that answers every request at
  // once, with berthd's own answers (its container inspect and exec inspect bodies), in
  // blocks beside the daemons' (below), so that the machine's drift falls on all alike.
  const floor = [];
  const answersFile = path.join(dir, 'answers.json');
  fs.writeFileSync(
    answersFile,
    JSON.stringify({
      containerInspect: await apiJson(berthd.socket, 'GET', '/containers/target/json'),
      execInspect: await exitedExecInspect(berthd.socket, 'target'),
    }),
  );
  const instantSocket = path.join(dir, 'instant.sock');
  const instant = spawn(process.execPath, [path.join(__dirname, 'instant-exec-daemon.js'), instantSocket, answersFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.push(instant);
  await new Promise((resolve) => instant.stdout.once('data', resolve));
  const instantEnv = { DOCKER_HOST: `unix://${instantSocket}`, DOCKER_CONFIG: berthEnv.DOCKER_CONFIG };

  // Warm each up (BERTH_BENCH_WARMUP execs), then interleave so the machine's noise falls on all alike.
  const warmup = Math.max(1, Number(process.env.BERTH_BENCH_WARMUP || 1));
  for (let i = 0; i < warmup; i++) {
    timeOnce('docker', ['exec', 'target', 'true'], berthEnv);
    if (dockerEnv) timeOnce('docker', ['exec', 'target', 'true'], dockerEnv);
    if (baselineEnv) timeOnce('docker', ['exec', 'target', 'true'], baselineEnv);
  }
  timeOnce(berthd.berth, ['exec', 'target', 'true'], berthd.berthEnv);
  timeOnce('docker', ['exec', 'target', 'true'], instantEnv);
  console.log(`each daemon served ${warmup} exec${warmup === 1 ? '' : 's'} before the timed runs`);
  const b = [];
  const d = [];
  const before = [];
  const own = [];
  for (let i = 0; i < runs; i++) {
    if (baselineEnv) before.push(timeOnce('docker', ['exec', 'target', 'true'], baselineEnv));
    b.push(timeOnce('docker', ['exec', 'target', 'true'], berthEnv));
    if (dockerEnv) d.push(timeOnce('docker', ['exec', 'target', 'true'], dockerEnv));
  }
  // In blocks: each daemon's execs one after another, as a user runs them against one
  // daemon, so that each follows its own daemon's work after the previous exec rather than
  // the other's (dockerd and containerd go on for a few ms after an exec has returned,
  // which the interleaved loop lays on berthd's next exec, and berthd's making of its next
  // spare on dockerd's). Blocks of half a quarter of the runs each, in a rotating order, so
  // that the machine's drift falls on both alike. The CLI alone (f) in blocks beside them,
  // each of the three first, second and last in turn.
  const blockB = [];
  const blockD = [];
  if (dockerEnv) {
    const quarter = Math.max(1, Math.round(runs / 4));
    for (const who of ['b', 'd', 'f', 'f', 'd', 'b', 'd', 'b', 'f', 'f', 'b', 'd']) {
      for (let i = 0; i < quarter / 2; i++) {
        if (who === 'b') blockB.push(timeOnce('docker', ['exec', 'target', 'true'], berthEnv));
        else if (who === 'd') blockD.push(timeOnce('docker', ['exec', 'target', 'true'], dockerEnv));
        else floor.push(timeOnce('docker', ['exec', 'target', 'true'], instantEnv));
      }
    }
  } else {
    for (let i = 0; i < runs; i++) floor.push(timeOnce('docker', ['exec', 'target', 'true'], instantEnv));
  }
  // berth's own CLI in a loop of its own: a Node process's start (~60 ms of CPU on both
  // cores, with its JIT threads) ran on into the measurement that followed it.
  for (let i = 0; i < runs; i++) own.push(timeOnce(berthd.berth, ['exec', 'target', 'true'], berthd.berthEnv));

  // A container's first exec: no spare monitor yet (berthd makes one after an exec, for the
  // next), so its monitor is made at the exec's create. Fresh containers, one exec each.
  const fresh = Number(process.env.BERTH_BENCH_FRESH || 10);
  const firstB = [];
  const firstD = [];
  for (let i = 0; i < fresh; i++) {
    docker(berthEnv, ['run', '-d', '--name', `fresh${i}`, 'busybox', 'sleep', '3000']);
    if (dockerEnv) docker(dockerEnv, ['run', '-d', '--name', `fresh${i}`, 'busybox', 'sleep', '3000']);
  }
  await new Promise((r) => setTimeout(r, 500));
  for (let i = 0; i < fresh; i++) {
    firstB.push(timeOnce('docker', ['exec', `fresh${i}`, 'true'], berthEnv));
    if (dockerEnv) firstD.push(timeOnce('docker', ['exec', `fresh${i}`, 'true'], dockerEnv));
  }
  const freshNames = Array.from({ length: fresh }, (_, i) => `fresh${i}`);
  if (fresh > 0) docker(berthEnv, ['rm', '-f', ...freshNames]);
  if (fresh > 0 && dockerEnv) docker(dockerEnv, ['rm', '-f', ...freshNames]);

  docker(berthEnv, ['exec', '-d', 'target', 'sleep', '30']);
  await new Promise((r) => setTimeout(r, 500));
  const execRss = shimRssKiB(dir, '--exec');
  const containerRss = shimRssKiB(dir, '--bundle');
  docker(berthEnv, ['rm', '-f', 'target']);
  if (dockerEnv) docker(dockerEnv, ['rm', '-f', 'target']);
  if (baselineEnv) docker(baselineEnv, ['rm', '-f', 'target']);

  const line = (label, xs) =>
    console.log(
      `${label.padEnd(40)} median ${median(xs).toFixed(1)} ms  (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, n=${xs.length})`,
    );
  line(`docker exec target true  (berthd${process.env.BERTH_BENCH_RUNTIME ? `, ${process.env.BERTH_BENCH_RUNTIME}` : ''})`, b);
  line('berth exec target true  (berth CLI, berthd)', own);
  if (dockerEnv) {
    line('docker exec target true  (dockerd)', d);
    console.log(`ratio berthd / dockerd                   ${(median(b) / median(d)).toFixed(2)}x  (target <= 0.30x)`);
    console.log(`ratio berth exec (berth's CLI) / dockerd ${(median(own) / median(d)).toFixed(2)}x`);
    line('in blocks: docker exec target true  (berthd)', blockB);
    line('in blocks: docker exec target true  (dockerd)', blockD);
    line("in blocks: the CLI alone (berthd's answers at once)", floor);
    console.log(`ratio berthd / dockerd, in blocks        ${(median(blockB) / median(blockD)).toFixed(2)}x  (target <= 0.30x)`);
    console.log(`ratio the CLI alone / dockerd, in blocks ${(median(floor) / median(blockD)).toFixed(2)}x  (no daemon can go below it)`);
    console.log(
      `daemon share, in blocks: berthd ${(median(blockB) - median(floor)).toFixed(1)} ms, dockerd ${(median(blockD) - median(floor)).toFixed(1)} ms`,
    );
  } else {
    line("the CLI alone (berthd's answers at once)", floor);
    console.log('dockerd: no Docker engine installed (apt-get install docker.io to compare)');
  }
  if (baselineEnv) {
    line(`baseline (${baselineRepo})`, before);
    if (dockerEnv) console.log(`ratio baseline / dockerd                 ${(median(before) / median(d)).toFixed(2)}x`);
  }
  if (fresh > 0) {
    line("a container's first exec  (berthd)", firstB);
    if (dockerEnv) {
      line("a container's first exec  (dockerd)", firstD);
      console.log(`ratio berthd / dockerd, first exec       ${(median(firstB) / median(firstD)).toFixed(2)}x`);
    }
  }
  const mib = (kib) => (kib === undefined ? 'not found' : `${(kib / 1024).toFixed(2)} MiB`);
  console.log(`berth-shim RSS: an exec's ${mib(execRss)}, its container's ${mib(containerRss)}  (target < 2 MiB)`);
}

/** One request to a daemon's API socket: its JSON answer. */
function apiJson(socketPath, method, url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: url, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => (res.statusCode < 300 ? resolve(text ? JSON.parse(text) : undefined) : reject(new Error(`${url}: ${text}`))));
    });
    req.on('error', reject);
    req.end(body && JSON.stringify(body));
  });
}

/** The inspect of an exec of `true` in `container` once it exited, as the daemon answers it. */
async function exitedExecInspect(socketPath, container) {
  const { Id } = await apiJson(socketPath, 'POST', `/containers/${container}/exec`, {
    Cmd: ['true'],
    AttachStdout: true,
    AttachStderr: true,
  });
  await apiJson(socketPath, 'POST', `/exec/${Id}/start`, { Detach: true });
  for (let i = 0; i < 100; i++) {
    const inspect = await apiJson(socketPath, 'GET', `/exec/${Id}/json`);
    if (!inspect.Running) return inspect;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`exec ${Id} still runs after 2 s`);
}

runBench(main, started, dir);
