// `docker push` then `docker pull` of one ~200 MB, 5-layer image over loopback: berthd
// against berth's registry (bin/berth-registry), and a dockerd of the benchmark's own
// against Debian's reference registry (/usr/bin/docker-registry), in the same run, rounds
// alternating berth, docker. The image is generated (random-ish, compressible text, so
// gzip has real work) and `docker load`ed into both daemons: the same layers on both.
// Each round: load, push to a registry with an empty root (every layer is compressed and
// uploaded), rmi, pull (every layer downloaded and stored), rmi. Prints each way's median
// time, MB/s of the uncompressed layers, and berth's speed-up (docker's time / berth's).
// Asserts nothing; needs `npm run build`. dockerd runs with no bridge and no iptables
// (`network: 'none'`: the host's network is left alone; a push needs none). Each round's
// line also gives the CPU time the daemon and the registry spent in its push and pull
// (the rest of a wall time is the CLI, the kernel's copies and waiting).
// Usage: node bench/push-pull.js [rounds] [MiB per layer]   (default 3 40)
// Everything lives under /tmp/berth-bench-pushpull-*; processes are stopped by their pids.
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { cpuMs, median, runBench, startBerthd, startDockerd, startRegistry, timeOnce } = require('./support');

const rounds = Number(process.argv[2] || 3);
const layerMiB = Number(process.argv[3] || 40);
const layers = 5;
const dir = fs.mkdtempSync('/tmp/berth-bench-pushpull-');
const started = [];
const docker = process.env.DOCKER_CLI || 'docker';

/**
 * Random-ish text: lines of random words from a small vocabulary with random numbers,
 * which gzip shrinks to about a third (like source trees and binaries, unlike random bytes).
 */
function textBlock(bytes) {
  const words = Array.from({ length: 512 }, () => crypto.randomBytes(1 + (crypto.randomInt(6) | 0)).toString('hex'));
  const parts = [];
  let size = 0;
  while (size < bytes) {
    const line = `${words[crypto.randomInt(512)]} ${words[crypto.randomInt(512)]}=${crypto.randomInt(1e9)} ${words[crypto.randomInt(512)]}\n`;
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

/** A `docker save`-format archive of a 5-layer image (each layer `layerMiB` of files), for `docker load`. */
function makeImageArchive() {
  const work = path.join(dir, 'image');
  fs.mkdirSync(work);
  const diffIds = [];
  const layerPaths = [];
  for (let i = 0; i < layers; i++) {
    const root = path.join(work, `rootfs${i}`);
    fs.mkdirSync(path.join(root, `layer${i}`), { recursive: true });
    const fileMiB = 4;
    for (let f = 0; f < layerMiB / fileMiB; f++) fs.writeFileSync(path.join(root, `layer${i}`, `file${f}.txt`), textBlock(fileMiB << 20));
    const layerDir = path.join(work, `l${i}`);
    fs.mkdirSync(layerDir);
    const tar = path.join(layerDir, 'layer.tar');
    const r = spawnSync('tar', ['--sort=name', '--mtime=2026-01-01', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
    if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
    fs.rmSync(root, { recursive: true });
    diffIds.push(`sha256:${crypto.createHash('sha256').update(fs.readFileSync(tar)).digest('hex')}`);
    layerPaths.push(`l${i}/layer.tar`);
  }
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '2026-01-01T00:00:00Z',
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, i) => ({ created: '2026-01-01T00:00:00Z', created_by: `layer ${i}` })),
  });
  const configName = `${crypto.createHash('sha256').update(config).digest('hex')}.json`;
  fs.writeFileSync(path.join(work, configName), config);
  fs.writeFileSync(
    path.join(work, 'manifest.json'),
    JSON.stringify([{ Config: configName, RepoTags: ['bench/big:1'], Layers: layerPaths }]),
  );
  const archive = path.join(dir, 'image.tar');
  const r = spawnSync('tar', ['-C', work, '-cf', archive, '.']);
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  fs.rmSync(work, { recursive: true });
  return archive;
}

function dockerOk(env, args) {
  const r = spawnSync(docker, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** `docker args` timed, with the CPU the daemon and the registry spent meanwhile: { ms, daemonCpu, registryCpu }. */
function timedWithCpu(env, args, daemonPid, registryPid) {
  const [d, r] = [cpuMs(daemonPid), cpuMs(registryPid)];
  const ms = timeOnce(docker, args, env);
  return { ms, daemonCpu: cpuMs(daemonPid) - d, registryCpu: cpuMs(registryPid) - r };
}

/** One round on one daemon: load (untimed), push to a fresh registry, rmi, pull; resolves the push's and the pull's timings. */
async function round(kind, env, daemonPid, archive, n) {
  const registry = await startRegistry(kind === 'berth' ? 'berth' : 'reference', path.join(dir, `${kind}-registry-${n}`), started);
  try {
    const name = `${registry.host}/bench/big:1`;
    dockerOk(env, ['load', '-q', '-i', archive]);
    dockerOk(env, ['tag', 'bench/big:1', name]);
    const push = timedWithCpu(env, ['push', '-q', name], daemonPid, registry.pid);
    dockerOk(env, ['rmi', name, 'bench/big:1']);
    const pull = timedWithCpu(env, ['pull', '-q', name], daemonPid, registry.pid);
    dockerOk(env, ['rmi', name]);
    return { push, pull };
  } finally {
    await registry.stop();
  }
}

async function main() {
  const t = Date.now();
  const archive = makeImageArchive();
  const mb = (layers * layerMiB * 1048576) / 1e6;
  console.log(
    `image: ${layers} layers of ${layerMiB} MiB (${mb.toFixed(0)} MB of layer tars), made in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  const berthd = await startBerthd(dir, started, { cgroupParent: 'berth-bench-pushpull' });
  const daemons = [['berth', berthd.env, berthd.proc.pid]];
  // BERTH_BENCH_NO_DOCKERD=1: berth alone, as in bench/run-true.js.
  const dockerd = process.env.BERTH_BENCH_NO_DOCKERD ? undefined : await startDockerd(dir, started, { network: 'none' });
  if (dockerd) daemons.push(['docker', dockerd.env, dockerd.pid]);
  else console.log('no dockerd (not installed, or BERTH_BENCH_NO_DOCKERD): berth only');
  const times = Object.fromEntries(daemons.map(([kind]) => [kind, { push: [], pull: [] }]));
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const cpu = (t) => `(CPU daemon ${s(t.daemonCpu)}, registry ${s(t.registryCpu)})`;
  for (let n = 0; n < rounds; n++) {
    for (const [kind, env, pid] of daemons) {
      const r = await round(kind, env, pid, archive, n);
      times[kind].push.push(r.push.ms);
      times[kind].pull.push(r.pull.ms);
      console.log(`round ${n + 1} ${kind.padEnd(6)} push ${s(r.push.ms)} ${cpu(r.push)}  pull ${s(r.pull.ms)} ${cpu(r.pull)}`);
    }
  }
  console.log('\nmedians           push                pull');
  for (const [kind] of daemons) {
    const push = median(times[kind].push);
    const pull = median(times[kind].pull);
    const rate = (ms) => `${(mb / (ms / 1000)).toFixed(0)} MB/s`.padStart(9);
    console.log(
      `${kind.padEnd(16)}  ${(push / 1000).toFixed(2).padStart(6)} s ${rate(push)}  ${(pull / 1000).toFixed(2).padStart(6)} s ${rate(pull)}`,
    );
  }
  if (dockerd) {
    const ratio = (way) => (median(times.docker[way]) / median(times.berth[way])).toFixed(2);
    console.log(`berth speed-up    push ${ratio('push')}x            pull ${ratio('pull')}x   (docker's time / berth's)`);
    await crossCheck(berthd.env, dockerd.env, archive);
  }
}

/**
 * Not timed: dockerd pulls what berthd pushed (layers gzipped by libdeflate as a series of
 * members, one per MiB), through berth's registry: dockerd checks every layer's diffID
 * against the image config as it unpacks, so a reader that stopped after the first
 * member would fail here.
 */
async function crossCheck(berthEnv, dockerEnv, archive) {
  const registry = await startRegistry('berth', path.join(dir, 'cross-registry'), started);
  try {
    const name = `${registry.host}/bench/cross:1`;
    dockerOk(berthEnv, ['load', '-q', '-i', archive]);
    dockerOk(berthEnv, ['tag', 'bench/big:1', name]);
    dockerOk(berthEnv, ['push', '-q', name]);
    const r = spawnSync(docker, ['pull', '-q', name], { env: { ...process.env, ...dockerEnv }, encoding: 'utf8' });
    const ids = [berthEnv, dockerEnv].map((env) =>
      r.status === 0 ? dockerOk(env, ['image', 'inspect', '-f', '{{.Id}}', name]).trim() : '',
    );
    console.log(
      r.status === 0 && ids[0] === ids[1]
        ? `cross-check: dockerd pulled what berthd pushed (gzip members), image ${ids[1].slice(7, 19)} on both`
        : `cross-check FAILED: dockerd pull of what berthd pushed: ${r.stderr.trim() || `ids ${ids.join(' ')}`}`,
    );
  } finally {
    await registry.stop();
  }
}

runBench(main, started, dir);
