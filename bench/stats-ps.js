// `docker stats --no-stream` and `docker ps` (and `docker ps -a --size`) through the real
// docker CLI with 50 running `busybox sleep 3000` containers, on a berthd of its own; and,
// when a Docker engine is installed, the same on a dockerd this script starts (its own
// data root; the host's firewall restored after; stopped by its pid), interleaved A B A B
// in the same run, medians and ratios. Also: the CLI's floor (the same `stats --no-stream`
// with no container running: docker CLI 28 prints on a 500 ms ticker that starts once
// every container has answered), and each daemon's share alone (the 50 concurrent
// `GET /containers/{id}/stats?stream=0` the CLI sends, and `docker ps`'s `HEAD /_ping`
// and `GET /containers/json`, over the socket without the CLI), and the CLI alone with that many
// containers (bench/instant-stats-daemon.js answers at once). Removes every container it started. Prints figures,
// asserts nothing.
// Usage: node bench/stats-ps.js [runs] [containers]   (as root, after npm run build; house style: bench/exec.js)
'use strict';
const { execFile, execFileSync, spawn, spawnSync } = require('node:child_process');
const http = require('node:http');
const { median, runBench, startBerthd, startDockerd, timeOnce } = require('./support.js');
const fs = require('node:fs');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const runs = Number(process.argv[2] || 10);
const count = Number(process.argv[3] || 50);
const dir = fs.mkdtempSync('/tmp/berth-bench-');
const busybox = path.join(repo, 'test/fixtures/.cache/busybox.tar');
const started = [];
/** Engines whose containers must go at the end, whatever happened. */
const engines = [];

/** `docker args` with `env`, resolved with its stdout. */
function dockerAsync(env, args) {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { env: { ...process.env, ...env }, encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? reject(new Error(`docker ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

/** `count` running containers `bench-0` … on the engine at `env` (network none), four `run -d` at a time. */
async function startContainers(env) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await dockerAsync(env, ['run', '-d', '--network', 'none', '--name', `bench-${i}`, 'busybox', 'sleep', '3000']);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

/** Milliseconds until every one of `paths` was answered 200 by the daemon on `sock`, all sent at once, each on a connection of its own (as the CLI does). */
async function timeRequests(sock, paths) {
  const get = (p) =>
    new Promise((resolve, reject) => {
      http
        .get({ socketPath: sock, path: p, agent: false }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET ${p}: ${res.statusCode}`))));
        })
        .on('error', reject);
    });
  const t = process.hrtime.bigint();
  await Promise.all(paths.map(get));
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Milliseconds the daemon on `sock` took to answer `requests` ([method, path]) one after another on one connection, as `docker ps` sends them. */
async function timeSequence(sock, requests) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const t = process.hrtime.bigint();
  for (const [method, p] of requests) {
    await new Promise((resolve, reject) => {
      http
        .request({ socketPath: sock, path: p, method, agent }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${method} ${p}: ${res.statusCode}`))));
        })
        .on('error', reject)
        .end();
    });
  }
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  agent.destroy();
  return ms;
}

/** Remove every container of the engine at `env` (all of them are this script's). */
function removeContainers(env) {
  const ids = spawnSync('docker', ['ps', '-aq'], { env: { ...process.env, ...env }, encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .filter(Boolean);
  if (ids.length) spawnSync('docker', ['rm', '-f', ...ids], { env: { ...process.env, ...env }, stdio: 'ignore' });
}

async function main() {
  const berthd = await startBerthd(dir, started, { cgroupParent: 'berth-bench-stats' });
  const berthEnv = berthd.env;
  execFileSync('docker', ['load', '-q', '-i', busybox], { env: { ...process.env, ...berthEnv } });
  engines.push(berthEnv);
  // Docker without its bridge (as berth, whose default network is none): stats and ps then
  // compare like with like, and the host's docker0 and firewall, which other benchmarks on
  // this machine may be using at the same moment, are left alone.
  const dockerEnv = (await startDockerd(dir, started, { network: 'none' }))?.env;
  if (dockerEnv) {
    execFileSync('docker', ['load', '-q', '-i', busybox], { env: { ...process.env, ...dockerEnv } });
    engines.push(dockerEnv);
  }
  // The CLI's floor: nothing to wait for but its own start, the list and its 500 ms ticker.
  const floor = { b: [], d: [] };
  for (let i = 0; i < Math.min(runs, 5); i++) {
    floor.b.push(timeOnce('docker', ['stats', '--no-stream'], berthEnv));
    if (dockerEnv) floor.d.push(timeOnce('docker', ['stats', '--no-stream'], dockerEnv));
  }
  await Promise.all([startContainers(berthEnv), dockerEnv && startContainers(dockerEnv)]);
  const running = (env) =>
    execFileSync('docker', ['ps', '-q'], { env: { ...process.env, ...env }, encoding: 'utf8' })
      .trim()
      .split('\n').length;
  console.log(`${running(berthEnv)} containers running on berthd${dockerEnv ? `, ${running(dockerEnv)} on dockerd` : ''}`);

  const commands = {
    'stats --no-stream': ['stats', '--no-stream'],
    ps: ['ps'],
    'ps -a --size': ['ps', '-a', '--size'],
  };
  // The CLI alone with `count` containers: a stand-in daemon that answers the list and
  // every stats request at once (bench/instant-stats-daemon.js). What no daemon can save:
  // the CLI's start-up, its ticker and its own per-container requests and decoding.
  const instantSocket = path.join(dir, 'instant-stats.sock');
  const instant = spawn(process.execPath, [path.join(__dirname, 'instant-stats-daemon.js'), instantSocket, String(count)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.push(instant);
  await new Promise((resolve) => instant.stdout.once('data', resolve));
  const instantEnv = { DOCKER_HOST: `unix://${instantSocket}`, DOCKER_CONFIG: berthEnv.DOCKER_CONFIG };

  const times = {};
  const cliAlone = [];
  for (const [label, args] of Object.entries(commands)) {
    // Warm both up once, then interleave so the machine's noise falls on both alike; ps is
    // cheap and its figures small next to the noise, so it runs three times as often.
    timeOnce('docker', args, berthEnv);
    if (dockerEnv) timeOnce('docker', args, dockerEnv);
    const b = [];
    const d = [];
    for (let i = 0; i < (label === 'stats --no-stream' ? runs : 3 * runs); i++) {
      // A B, then B A: neither daemon always runs right after the other.
      if (i % 2 && dockerEnv) d.push(timeOnce('docker', args, dockerEnv));
      b.push(timeOnce('docker', args, berthEnv));
      if (!(i % 2) && dockerEnv) d.push(timeOnce('docker', args, dockerEnv));
      if (label === 'stats --no-stream') cliAlone.push(timeOnce('docker', args, instantEnv));
    }
    times[label] = { b, d };
  }
  // Each daemon's share alone, over its socket: what the CLI asks for, without the CLI.
  const ids = (env) =>
    execFileSync('docker', ['ps', '-q'], { env: { ...process.env, ...env }, encoding: 'utf8' })
      .trim()
      .split('\n');
  const api = {};
  const sockOf = (env) => env.DOCKER_HOST.slice('unix://'.length);
  const statsPaths = (env) => ids(env).map((id) => `/v1.41/containers/${id}/stats?stream=0`);
  const psRequests = [
    ['HEAD', '/_ping'],
    ['GET', '/v1.41/containers/json'],
  ];
  const timings = {
    [`${count} x GET /containers/{id}/stats?stream=0, at once`]: { n: runs, time: (env) => timeRequests(sockOf(env), statsPaths(env)) },
    'HEAD /_ping, GET /containers/json (docker ps)': { n: 3 * runs, time: (env) => timeSequence(sockOf(env), psRequests) },
  };
  for (const [label, { n, time }] of Object.entries(timings)) {
    const b = [];
    const d = [];
    for (let i = 0; i < n; i++) {
      if (i % 2 && dockerEnv) d.push(await time(dockerEnv));
      b.push(await time(berthEnv));
      if (!(i % 2) && dockerEnv) d.push(await time(dockerEnv));
    }
    api[label] = { b, d };
  }

  const line = (label, xs) =>
    console.log(
      `${label.padEnd(58)} median ${median(xs).toFixed(1)} ms  (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, n=${xs.length})`,
    );
  const targets = { 'stats --no-stream': '(target <= 0.20x)', ps: '(target <= 1.00x)', 'ps -a --size': '' };
  for (const [label, { b, d }] of Object.entries(times)) {
    line(`docker ${label}  (berthd, ${count})`, b);
    if (!dockerEnv) continue;
    line(`docker ${label}  (dockerd, ${count})`, d);
    console.log(`${'ratio berthd / dockerd'.padEnd(58)} ${(median(b) / median(d)).toFixed(2)}x  ${targets[label]}`);
  }
  console.log('the daemons alone (no CLI):');
  for (const [label, { b, d }] of Object.entries(api)) {
    line(`  ${label} (berthd)`, b);
    if (!dockerEnv) continue;
    line(`  ${label} (dockerd)`, d);
    console.log(`${'  ratio berthd / dockerd'.padEnd(58)} ${(median(b) / median(d)).toFixed(2)}x`);
  }
  line('the CLI floor: stats --no-stream, none running (berthd)', floor.b);
  if (dockerEnv) line('the CLI floor: stats --no-stream, none running (dockerd)', floor.d);
  line(`the CLI alone: stats --no-stream, ${count} answered at once`, cliAlone);
  if (dockerEnv) {
    const d = median(times['stats --no-stream'].d);
    console.log(
      `${'ratio the CLI alone / dockerd'.padEnd(58)} ${(median(cliAlone) / d).toFixed(2)}x  (no daemon can go below it; the target ${(0.2 * d).toFixed(1)} ms)`,
    );
    console.log(
      `${'daemon share in stats --no-stream'.padEnd(58)} berthd ${(median(times['stats --no-stream'].b) - median(cliAlone)).toFixed(1)} ms, dockerd ${(d - median(cliAlone)).toFixed(1)} ms`,
    );
  }
  if (!dockerEnv) console.log('dockerd: no Docker engine installed (apt-get install docker.io to compare)');
}

runBench(main, started, dir, () => {
  for (const env of engines) removeContainers(env);
});
