// `docker cp` of a tree of a few thousand small files out of and into a running container,
// and `docker export` of it, through the real docker CLI against berthd: medians of N
// runs; and, when a Docker engine is installed, the same against a dockerd this script
// starts (its own data root, no bridge or firewall rules; stopped by its pid), interleaved
// A B A B in the same run, with the ratio. Prints figures, asserts nothing.
// Usage: node bench/cp-tree.js [runs] [dirs] [files-per-dir]   (defaults 10, 60, 50: 3000 files)
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const { median, runBench, startBerthd, startDockerd, timeOnce } = require('./support.js');
const fs = require('node:fs');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const runs = Number(process.argv[2] || 10);
const dirs = Number(process.argv[3] || 60);
const filesPerDir = Number(process.argv[4] || 50);
const dir = fs.mkdtempSync('/tmp/berth-bench-');
const busybox = path.join(repo, 'test/fixtures/.cache/busybox.tar');
const started = [];
/** The environments of the engines a container was started on: its removal comes before the daemons stop, even after a failure. */
const withTarget = [];

async function main() {
  const berthd = await startBerthd(dir, started, { cgroupParent: 'berth-bench' });
  const berthEnv = berthd.env;
  const dockerEnv = (await startDockerd(dir, started, { network: 'none' }))?.env;
  const engines = [['berthd', berthEnv]];
  if (dockerEnv) engines.push(['dockerd', dockerEnv]);

  // The tree, made inside each container (in its writable layer), and a copy on the host to copy in.
  const make = `mkdir /t; for d in $(seq 1 ${dirs}); do mkdir /t/$d; for f in $(seq 1 ${filesPerDir}); do echo "file $d $f" > /t/$d/$f; done; done`;
  const hostTree = path.join(dir, 'tree');
  for (let d = 1; d <= dirs; d++) {
    fs.mkdirSync(path.join(hostTree, String(d)), { recursive: true });
    for (let f = 1; f <= filesPerDir; f++) fs.writeFileSync(path.join(hostTree, String(d), String(f)), `file ${d} ${f}\n`);
  }
  for (const [, env] of engines) {
    const docker = (args) => execFileSync('docker', args, { env: { ...process.env, ...env }, encoding: 'utf8' });
    docker(['load', '-q', '-i', busybox]);
    withTarget.push(env);
    docker(['run', '-d', '--network', 'none', '--name', 'target', 'busybox', 'sh', '-c', `${make}; sleep 3000`]);
    while (docker(['exec', 'target', 'sh', '-c', `test -e /t/${dirs}/${filesPerDir} && echo ready || true`]).trim() !== 'ready') {
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const out = path.join(dir, 'out');
  const cases = {
    'cp out (container -> host dir)': (env) => {
      fs.rmSync(out, { recursive: true, force: true });
      return timeOnce('docker', ['cp', 'target:/t', out], env);
    },
    'cp in (host dir -> container)': (env) => timeOnce('docker', ['cp', hostTree, 'target:/in'], env),
    'export (whole root, to a file)': (env) => timeOnce('docker', ['export', '-o', path.join(dir, 'export.tar'), 'target'], env),
  };
  console.log(`a tree of ${dirs} directories x ${filesPerDir} files (${dirs * filesPerDir} files), ${runs} runs`);
  for (const name of Object.keys(cases)) {
    const results = Object.fromEntries(engines.map(([engine]) => [engine, []]));
    for (const [, env] of engines) cases[name](env); // warm up
    for (let i = 0; i < runs; i++) {
      for (const [engine, env] of engines) results[engine].push(cases[name](env));
    }
    const line = (engine, xs) =>
      `${`${name} (${engine})`.padEnd(46)} median ${median(xs).toFixed(1)} ms  (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`;
    console.log(line('berthd', results.berthd));
    if (dockerEnv)
      console.log(`${line('dockerd', results.dockerd)}  ratio ${(median(results.berthd) / median(results.dockerd)).toFixed(2)}x`);
  }
  if (!dockerEnv) console.log('dockerd: no Docker engine installed (apt-get install docker.io to compare)');
}

runBench(main, started, dir, () => {
  for (const env of withTarget) spawnSync('docker', ['rm', '-f', 'target'], { env: { ...process.env, ...env }, stdio: 'ignore' });
});
