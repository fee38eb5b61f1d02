// `docker build` of one context through the real docker CLI (the classic builder,
// DOCKER_BUILDKIT=0) against berthd and, when a Docker engine is installed, against a
// dockerd this script starts (its own data root; stopped by its pid, the host's firewall
// restored after), interleaved A B A B: a cold build (--no-cache) and a fully cached
// rebuild, median of each, and the ratios. The context: FROM busybox, 10 RUN steps, and a
// COPY of 1,000 small files. Also, in the same rounds: the cached rebuild through
// `berth build` (berth's own CLI, against the same berthd), and the docker CLI against a
// stand-in daemon that reads the context and answers at once (bench/instant-build-daemon.js:
// the CLI's own share, below which no daemon can go). Prints figures and the load
// average, asserts nothing.
// Usage: node bench/build.js [rounds]
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const os = require('node:os');
const { median, runBench, startBerthd, startDockerd, timeOnce } = require('./support.js');
const fs = require('node:fs');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const rounds = Number(process.argv[2] || 3);
const dir = fs.mkdtempSync('/tmp/berth-bench-');
const busybox = path.join(repo, 'test/fixtures/.cache/busybox.tar');
const started = [];

/** The benchmark's context: 10 RUN steps and a COPY of 1,000 files of 100 bytes. */
function makeContext() {
  const ctx = path.join(dir, 'context');
  fs.mkdirSync(path.join(ctx, 'files'), { recursive: true });
  for (let i = 0; i < 1000; i++) fs.writeFileSync(path.join(ctx, 'files', `f${i}.txt`), `${String(i).padStart(4, '0')} `.repeat(20));
  const runs = Array.from({ length: 10 }, (_, i) => `RUN echo step ${i} > /step${i}`);
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), ['FROM busybox', ...runs, 'COPY files/ /files/', ''].join('\n'));
  return ctx;
}

async function main() {
  const ctx = makeContext();
  const berthd = await startBerthd(dir, started, { cgroupParent: 'berth-bench-build' });
  const berthEnv = { ...berthd.env, DOCKER_BUILDKIT: '0' };
  const instantSocket = path.join(dir, 'instant.sock');
  const instant = spawn(process.execPath, [path.join(__dirname, 'instant-build-daemon.js'), instantSocket], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.push(instant);
  await new Promise((resolve) => instant.stdout.once('data', resolve));
  const instantEnv = { DOCKER_HOST: `unix://${instantSocket}`, DOCKER_CONFIG: berthEnv.DOCKER_CONFIG, DOCKER_BUILDKIT: '0' };
  const docker = (env, args) => execFileSync('docker', args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  const envs = [berthEnv];
  docker(berthEnv, ['load', '-q', '-i', busybox]);
  const dockerd = await startDockerd(dir, started, { network: 'default' });
  const dockerEnv = dockerd ? { ...dockerd.env, DOCKER_BUILDKIT: '0' } : undefined;
  if (dockerEnv) {
    docker(dockerEnv, ['load', '-q', '-i', busybox]);
    envs.push(dockerEnv);
  }
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  const loadBefore = load();
  const cold = envs.map(() => []);
  const berthCli = [];
  const floor = [];
  const cached = envs.map(() => []);
  // Warm up once each (page cache, the base layer's first use); it also fills the cache.
  for (const env of envs) timeOnce('docker', ['build', '-q', '-t', 'bench:warm', ctx], env);
  for (let r = 0; r < rounds; r++) {
    for (const [i, env] of envs.entries()) cold[i].push(timeOnce('docker', ['build', '-q', '--no-cache', '-t', 'bench:cold', ctx], env));
  }
  for (let r = 0; r < rounds * 2; r++) {
    for (const [i, env] of envs.entries()) cached[i].push(timeOnce('docker', ['build', '-q', '-t', 'bench:cached', ctx], env));
    berthCli.push(timeOnce(berthd.berth, ['build', '-q', '-t', 'bench:cached', ctx], berthd.berthEnv));
    floor.push(timeOnce('docker', ['build', '-q', '-t', 'bench:cached', ctx], instantEnv));
  }
  const row = (label, xs) =>
    console.log(
      `${label.padEnd(40)} median ${median(xs).toFixed(0).padStart(6)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`,
    );
  console.log(`docker build, FROM busybox + 10 RUN + COPY of 1,000 files, ${rounds} cold and ${rounds * 2} cached rounds`);
  row('cold (--no-cache), berthd', cold[0]);
  if (dockerEnv) row('cold (--no-cache), dockerd', cold[1]);
  row('cached rebuild, berthd', cached[0]);
  if (dockerEnv) row('cached rebuild, dockerd', cached[1]);
  row('cached rebuild, berth build', berthCli);
  row('docker CLI alone (instant daemon)', floor);
  if (dockerEnv) {
    console.log(`ratio cold   berthd / dockerd  ${(median(cold[0]) / median(cold[1])).toFixed(2)}x  (target <= 0.70x)`);
    console.log(`ratio cached berthd / dockerd  ${(median(cached[0]) / median(cached[1])).toFixed(2)}x  (target <= 0.30x)`);
    console.log(`ratio cached berth build / docker build on dockerd  ${(median(berthCli) / median(cached[1])).toFixed(2)}x`);
    console.log(`ratio docker CLI alone / dockerd  ${(median(floor) / median(cached[1])).toFixed(2)}x  (the floor of the first ratio)`);
  } else {
    console.log('dockerd: no Docker engine installed (apt-get install docker.io to compare)');
  }
  console.log(`load average before ${loadBefore}, after ${load()}`);
}

runBench(main, started, dir);
