// From a tarball to a container's root filesystem: `docker import` of one big layer (a tar
// of /usr, tens of thousands of files), then `docker create` of a container from it, on a
// berthd of the benchmark's own and on a dockerd of its own, with GNU `tar -xpf` of the same
// tarball on the same disk beside them. dockerd unpacks the layer during `import`; berthd
// stores and checks the tarball at `import` (the layer is validated, not unpacked) and
// unpacks it (applyLayer, sha256 of every byte) when the first container needs it, at
// `create`. So the like-for-like figure is import + create; `import` alone is printed too.
// Rounds alternate the order (A B C, then C B A) and each step starts after a `sync`, so
// no side pays for another's writeback. Asserts nothing; needs `npm run build`; run it
// under `flock /tmp/berth-dockerd-bench.lock` (dockerd runs with no bridge, no iptables).
// Usage: node bench/import-unpack.js [rounds] [directory ...]
//   (default 2 rounds of /usr/share /usr/include /usr/lib/python3* /usr/lib/x86_64-linux-gnu)
// Everything lives under /tmp/berth-bench-import-*; processes are stopped by their pids.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { median, runBench, startBerthd, startDockerd, timeOnce } = require('./support');

const rounds = Number(process.argv[2] || 2);
const dirs = process.argv.length > 3 ? process.argv.slice(3) : defaultDirs();
const dir = fs.mkdtempSync('/tmp/berth-bench-import-');
const started = [];
const docker = process.env.DOCKER_CLI || 'docker';

function defaultDirs() {
  const python = fs.readdirSync('/usr/lib').filter((d) => /^python3/.test(d));
  return ['/usr/share', '/usr/include', ...python.map((d) => `/usr/lib/${d}`), '/usr/lib/x86_64-linux-gnu'];
}

function makeTarball() {
  const tar = path.join(dir, 'layer.tar');
  const rel = dirs.map((d) => path.relative('/', path.resolve(d)));
  // Files that vanish or cannot be read while tar runs are not worth failing the benchmark for.
  const r = spawnSync('tar', ['--warning=no-file-changed', '--ignore-failed-read', '-C', '/', '-cf', tar, ...rel], { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`tar: ${r.stderr}`);
  const entries = Number(execFileSync('sh', ['-c', `tar -tf ${tar} | wc -l`], { encoding: 'utf8' }).trim());
  return { tar, bytes: fs.statSync(tar).size, entries };
}

function dockerOk(env, args) {
  const r = spawnSync(docker, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** One import and create on a daemon: { import, create } in ms; everything removed afterwards. */
function daemonRound(env, tar, n) {
  const image = `bench/import:${n}`;
  execFileSync('sync');
  const imported = timeOnce(docker, ['import', tar, image], env);
  execFileSync('sync');
  const created = timeOnce(docker, ['create', '--name', `bench-import-${n}`, image, '/bin/true'], env);
  dockerOk(env, ['rm', `bench-import-${n}`]);
  dockerOk(env, ['rmi', image]);
  return { import: imported, create: created };
}

function tarRound(tar, n) {
  const out = path.join(dir, `gnu-tar-${n}`);
  fs.mkdirSync(out);
  execFileSync('sync');
  const ms = timeOnce('tar', ['-C', out, '--same-owner', '-xpf', tar], {});
  fs.rmSync(out, { recursive: true, force: true });
  return ms;
}

async function main() {
  const t = Date.now();
  const { tar, bytes, entries } = makeTarball();
  console.log(
    `tarball: ${(bytes / 1e9).toFixed(2)} GB, ${entries} entries (${dirs.join(' ')}), made in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  const berthd = await startBerthd(dir, started, { cgroupParent: 'berth-bench-import' });
  const sides = [['berth', (n) => daemonRound(berthd.env, tar, n)]];
  // BERTH_BENCH_NO_DOCKERD=1: berth and GNU tar only, as in bench/run-true.js.
  const dockerd = process.env.BERTH_BENCH_NO_DOCKERD ? undefined : await startDockerd(dir, started, { network: 'none' });
  if (dockerd) sides.push(['docker', (n) => daemonRound(dockerd.env, tar, n)]);
  else console.log('no dockerd (not installed, or BERTH_BENCH_NO_DOCKERD): berth and GNU tar only');
  sides.push(['gnu tar', (n) => ({ import: 0, create: tarRound(tar, n) })]);
  const times = Object.fromEntries(sides.map(([kind]) => [kind, { import: [], create: [], total: [] }]));
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
  for (let n = 0; n < rounds; n++) {
    const order = n % 2 === 0 ? sides : [...sides].reverse();
    for (const [kind, run] of order) {
      const r = run(n);
      times[kind].import.push(r.import);
      times[kind].create.push(r.create);
      times[kind].total.push(r.import + r.create);
      if (kind === 'gnu tar') console.log(`round ${n + 1} ${kind.padEnd(7)} tar -xpf ${s(r.create)}`);
      else console.log(`round ${n + 1} ${kind.padEnd(7)} import ${s(r.import)}  create ${s(r.create)}  total ${s(r.import + r.create)}`);
    }
  }
  const mb = bytes / 1e6;
  const rate = (ms) => `${(mb / (ms / 1000)).toFixed(0)} MB/s`;
  console.log('\nmedians        import            create            import + create');
  for (const [kind] of sides) {
    const [i, c, all] = ['import', 'create', 'total'].map((k) => median(times[kind][k]));
    console.log(
      `${kind.padEnd(12)} ${s(i).padStart(8)}          ${s(c).padStart(8)}          ${s(all).padStart(8)} ${rate(all).padStart(10)}`,
    );
  }
  const total = (kind) => median(times[kind].total);
  const unpack = median(times.berth.create);
  const tarTime = median(times['gnu tar'].create);
  // The two targets: unpacking at least 0.9x GNU tar's speed (time at most 1.11x), and 1.5x Docker's import.
  console.log(
    `berth unpack (create) / GNU tar -xpf: ${(unpack / tarTime).toFixed(2)}x the time (speed ${(tarTime / unpack).toFixed(2)}x tar's)`,
  );
  console.log(`berth import + create / GNU tar -xpf: ${(total('berth') / tarTime).toFixed(2)}x the time`);
  if (dockerd) {
    const dockerImport = median(times.docker.import);
    console.log(
      `speed against docker (docker's time / berth's): unpack (create) against docker import ${(dockerImport / unpack).toFixed(2)}x, ` +
        `import alone ${(dockerImport / median(times.berth.import)).toFixed(2)}x, import + create ${(total('docker') / total('berth')).toFixed(2)}x`,
    );
  }
}

runBench(main, started, dir);
