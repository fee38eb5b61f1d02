// 50 containers started one after another with `docker run -d busybox sleep 600`, through
// the real docker CLI against berthd, and, when a Docker engine is installed, against a
// dockerd this script starts (its own data root; the host's firewall restored after;
// stopped by its pid), interleaved A B A B in the same run: the total of each, and the
// ratio. All the containers run until the end, so each start meets the ones before it.
// Prints figures, asserts nothing.
// Usage: node bench/run-d.js [count]   BERTH_BENCH_RUNTIME=crun: berthd's default runtime
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const { median, runBench, startBerthd, startDockerd, timeOnce } = require('./support.js');
const fs = require('node:fs');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const count = Number(process.argv[2] || 50);
const runtime = process.env.BERTH_BENCH_RUNTIME;
const dir = fs.mkdtempSync('/tmp/berth-bench-');
const busybox = path.join(repo, 'test/fixtures/.cache/busybox.tar');
const started = [];
const envs = [];

async function main() {
  const berthd = await startBerthd(dir, started, { cgroupParent: 'berth-bench-run-d' });
  const berthEnv = berthd.env;
  const docker = (env, args) => execFileSync('docker', args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  docker(berthEnv, ['load', '-q', '-i', busybox]);
  envs.push(berthEnv);
  // Docker as installed, with its default bridge and firewall rules: what the targets are quoted against.
  const dockerEnv = (await startDockerd(dir, started, { network: 'default' }))?.env;
  if (dockerEnv) docker(dockerEnv, ['load', '-q', '-i', busybox]);
  if (dockerEnv) envs.push(dockerEnv);

  // Warm both up once (page cache, the layer's first use), then remove that container.
  for (const env of envs) {
    timeOnce('docker', ['run', '-d', '--name', 'warm', 'busybox', 'sleep', '600'], env);
    docker(env, ['rm', '-f', 'warm']);
  }
  const b = [];
  const d = [];
  for (let i = 0; i < count; i++) {
    b.push(timeOnce('docker', ['run', '-d', '--name', `c${i}`, 'busybox', 'sleep', '600'], berthEnv));
    if (dockerEnv) d.push(timeOnce('docker', ['run', '-d', '--name', `c${i}`, 'busybox', 'sleep', '600'], dockerEnv));
  }
  const sum = (xs) => xs.reduce((a, x) => a + x, 0);
  const line = (label, xs) =>
    console.log(
      `${label.padEnd(44)} total ${(sum(xs) / 1000).toFixed(2)} s  (each: median ${median(xs).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)})`,
    );
  line(`${count} x docker run -d  (berthd${runtime ? `, ${runtime}` : ''})`, b);
  if (dockerEnv) {
    line(`${count} x docker run -d  (dockerd)`, d);
    console.log(`ratio berthd / dockerd                       ${(sum(b) / sum(d)).toFixed(2)}x  (target <= 0.30x)`);
  } else {
    console.log('dockerd: no Docker engine installed (apt-get install docker.io to compare)');
  }
}

runBench(main, started, dir, () => {
  for (const env of envs) {
    const ids = spawnSync('docker', ['ps', '-aq'], { env: { ...process.env, ...env }, encoding: 'utf8' }).stdout.trim();
    if (ids) spawnSync('docker', ['rm', '-f', ...ids.split('\n')], { env: { ...process.env, ...env }, stdio: 'ignore' });
  }
});
