// The two volume figures of issue 20, through the real docker CLI against berthd and, when
// a Docker engine is installed, against a dockerd this script starts (its default bridge
// and firewall, restored after; stopped by its pid), interleaved A B A B in the same run:
//  1. `docker run --rm -v vol:/data busybox true` with an existing named volume (target:
//     berthd at most 0.3x dockerd), beside the same run without -v (the volume's own share);
//  2. the first use of a volume pre-populated from an image with 10,000 files at the mount
//     point: `docker run --rm -v <new volume>:/data <image> true` (target: berthd at least as
//     fast as dockerd), beside the same run without the volume (the copy's own share).
// Prints figures, asserts nothing. Start it under `flock /tmp/berth-dockerd-bench.lock`.
// Usage: node bench/volumes.js [runs] [first-use rounds]   (defaults 20 and 7)
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const { median, runBench, startBerthd, startDockerd, timeOnce } = require('./support.js');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const runs = Number(process.argv[2] || 20);
const rounds = Number(process.argv[3] || 7);
const dir = fs.mkdtempSync('/tmp/berth-bench-');
const busybox = path.join(repo, 'test/fixtures/.cache/busybox.tar');
const image = 'berth-bench-prepopulate';
const started = [];
const envs = [];

async function main() {
  console.log(
    `load average at the start: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const berthd = await startBerthd(dir, started, { cgroupParent: 'berth-bench-volumes' });
  const engines = [['berthd', berthd.env]];
  const dockerEnv = (await startDockerd(dir, started, { network: 'default' }))?.env;
  if (dockerEnv) engines.push(['dockerd', dockerEnv]);
  for (const [, env] of engines) {
    const docker = (args) => execFileSync('docker', args, { env: { ...process.env, ...env }, encoding: 'utf8' });
    envs.push(env);
    docker(['load', '-q', '-i', busybox]);
    // The image: busybox with 100 directories of 100 small files at /data (10,100 entries).
    docker([
      'run',
      '--name',
      'bench-make',
      'busybox',
      'sh',
      '-c',
      'mkdir /data && cd /data && for d in $(seq 1 100); do mkdir $d; for f in $(seq 1 100); do echo "file $d $f" > $d/$f; done; done',
    ]);
    docker(['commit', 'bench-make', image]);
    docker(['rm', 'bench-make']);
    docker(['volume', 'create', 'bench-vol']);
    // Warm up (page cache, the layers' first use, the volume's first mount).
    timeOnce('docker', ['run', '--rm', '-v', 'bench-vol:/data', 'busybox', 'true'], env);
    timeOnce('docker', ['run', '--rm', image, 'true'], env);
  }

  const times = new Map();
  const add = (key, ms) => times.set(key, [...(times.get(key) ?? []), ms]);
  for (let i = 0; i < runs; i++) {
    for (const [name, env] of engines) {
      add(`${name} -v`, timeOnce('docker', ['run', '--rm', '-v', 'bench-vol:/data', 'busybox', 'true'], env));
      add(`${name} plain`, timeOnce('docker', ['run', '--rm', 'busybox', 'true'], env));
    }
  }
  for (let i = 0; i < rounds; i++) {
    for (const [name, env] of engines) {
      add(`${name} first use`, timeOnce('docker', ['run', '--rm', '-v', `bench-first-${i}:/data`, image, 'true'], env));
      add(`${name} image plain`, timeOnce('docker', ['run', '--rm', image, 'true'], env));
    }
  }
  // Untimed: each engine filled the volume whole.
  for (const [name, env] of engines) {
    const count = execFileSync('docker', ['run', '--rm', '-v', 'bench-first-0:/data', 'busybox', 'sh', '-c', 'find /data | wc -l'], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    }).trim();
    console.log(`${name}: the pre-populated volume holds ${count} entries (10101 with its root)`);
  }

  const m = (key) => median(times.get(key));
  const row = (label, key) => console.log(`${label.padEnd(58)} median ${m(key).toFixed(1).padStart(7)} ms`);
  console.log(`\n1. run --rm -v vol:/data busybox true, an existing named volume (${runs} runs each)`);
  for (const [name] of engines) {
    row(`  ${name}: run --rm -v bench-vol:/data busybox true`, `${name} -v`);
    row(`  ${name}: run --rm busybox true (no volume)`, `${name} plain`);
  }
  if (dockerEnv) console.log(`  ratio berthd / dockerd (with -v): ${(m('berthd -v') / m('dockerd -v')).toFixed(2)}x  (target <= 0.30x)`);
  console.log(`\n2. first use of a volume pre-populated from 10,000 image files (${rounds} rounds each)`);
  for (const [name] of engines) {
    row(`  ${name}: run --rm -v <new volume>:/data ${image} true`, `${name} first use`);
    row(`  ${name}: run --rm ${image} true (no volume)`, `${name} image plain`);
    const share = m(`${name} first use`) - m(`${name} image plain`);
    console.log(`${`  ${name}: the copy's share (difference of the medians)`.padEnd(60)}${share.toFixed(1).padStart(14)} ms`);
  }
  if (dockerEnv) {
    console.log(`  ratio berthd / dockerd (first use): ${(m('berthd first use') / m('dockerd first use')).toFixed(2)}x  (target <= 1.00x)`);
  } else {
    console.log('dockerd: no Docker engine installed (apt-get install docker.io to compare)');
  }
  console.log(
    `\nload average at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

runBench(main, started, dir, () => {
  for (const env of envs) {
    const ids = spawnSync('docker', ['ps', '-aq'], { env: { ...process.env, ...env }, encoding: 'utf8' }).stdout.trim();
    if (ids) spawnSync('docker', ['rm', '-f', ...ids.split('\n')], { env: { ...process.env, ...env }, stdio: 'ignore' });
  }
});
