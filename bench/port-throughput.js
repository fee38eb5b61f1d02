// Published-port throughput: a 512 MiB download (curl, to /dev/null) from a busybox httpd
// in a container, through `-p` on 127.0.0.1 and straight to the container's address, on a
// berthd of its own (DNAT in the kernel) and, when a Docker engine is installed, on a
// dockerd this script starts on its default bridge (its userland proxy on 127.0.0.1), and
// beside them through the host's own address (kernel DNAT for both engines),
// rounds interleaved, medians and each engine's published/direct ratio. The file is a
// sparse file on the host bind-mounted read-only, so the disk takes no part.
// Usage: node bench/port-throughput.js [rounds] [MiB]   (it takes /tmp/berth-dockerd-bench.lock
//        before starting a dockerd, so two such benches never run one each)
//        (as root, after npm run build; BERTH_BENCH_NO_DOCKERD=1 for berth alone)
// Prints figures, asserts nothing.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');

// One dockerd on its default network at a time on this machine: without the lock held,
// run again under it (flock waits for whoever holds it).
const lock = '/tmp/berth-dockerd-bench.lock';
if (!process.env.BERTH_BENCH_NO_DOCKERD && !process.env.BERTH_BENCH_LOCKED) {
  const r = spawnSync('flock', [lock, process.execPath, __filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, BERTH_BENCH_LOCKED: '1' },
  });
  process.exit(r.status ?? 1);
}
const fs = require('node:fs');
const path = require('node:path');
const { median, runBench, startBerthd, startDockerd } = require('./support.js');

const repo = path.resolve(__dirname, '..');
const rounds = Number(process.argv[2] || 5);
const mib = Number(process.argv[3] || 512);
const dir = fs.mkdtempSync('/tmp/berth-bench-');
const busybox = path.join(repo, 'test/fixtures/.cache/busybox.tar');
const started = [];

/** `docker args` on the engine at `env`; its stdout, trimmed. */
function docker(env, args) {
  return execFileSync('docker', args, { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
}

/** Bytes per second of one download of http://host:port/big (curl's own figure), after checking its size. */
function download(host, port) {
  const out = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{size_download} %{speed_download}', `http://${host}:${port}/big`], {
    encoding: 'utf8',
  });
  const [size, speed] = out.split(' ').map(Number);
  if (size !== mib * 1024 * 1024) throw new Error(`downloaded ${size} bytes from ${host}:${port}, expected ${mib} MiB`);
  return speed;
}

/** An httpd container on `env`'s engine serving the sparse file, published on 127.0.0.1; its address and host port. */
function serve(env, www) {
  const id = docker(env, ['run', '-d', '-v', `${www}:/www:ro`, '-p', '80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
  const address = docker(env, ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id]);
  const port = Number(
    docker(env, ['port', id, '80'])
      .split('\n')
      .find((l) => l.startsWith('0.0.0.0:'))
      .split(':')
      .pop(),
  );
  // httpd needs a moment to listen; the first download waits for it.
  for (let i = 0; i < 50; i++) {
    try {
      execFileSync('curl', ['-s', '-o', '/dev/null', '-r', '0-0', `http://${address}:80/big`]);
      break;
    } catch {
      execFileSync('sleep', ['0.1']);
    }
  }
  return { id, address, port };
}

/** The host's own IPv4 address on a real interface (not a bridge), for the figure through it; undefined without one. */
function hostAddress() {
  const links = JSON.parse(execFileSync('ip', ['-j', '-d', '-4', 'addr', 'show', 'scope', 'global'], { encoding: 'utf8' }));
  const link = links.find((l) => !['bridge', 'veth'].includes(l.linkinfo?.info_kind) && l.addr_info?.length);
  return link?.addr_info[0].local;
}

const gib = (bytesPerSecond) => `${(bytesPerSecond / 2 ** 30).toFixed(2)} GiB/s`;

async function main() {
  const www = path.join(dir, 'www');
  fs.mkdirSync(www);
  fs.writeFileSync(path.join(www, 'big'), '');
  fs.truncateSync(path.join(www, 'big'), mib * 1024 * 1024);
  const engines = [];
  const berth = await startBerthd(dir, started, { cgroupParent: 'berth-bench' });
  docker(berth.env, ['load', '-i', busybox]);
  engines.push({ name: 'berth (DNAT)', env: berth.env, ...serve(berth.env, www) });
  if (!process.env.BERTH_BENCH_NO_DOCKERD) {
    const dockerd = await startDockerd(dir, started, { network: 'default' });
    if (dockerd) {
      docker(dockerd.env, ['load', '-i', busybox]);
      engines.push({ name: 'docker (userland proxy)', env: dockerd.env, ...serve(dockerd.env, www) });
    }
  }
  const host = hostAddress();
  const figures = engines.map(() => ({ published: [], direct: [], host: [] }));
  for (let round = 0; round < rounds; round++) {
    engines.forEach((e, i) => {
      figures[i].direct.push(download(e.address, 80));
      figures[i].published.push(download('127.0.0.1', e.port));
      if (host) figures[i].host.push(download(host, e.port));
    });
  }
  console.log(`${mib} MiB download from a container's httpd, median of ${rounds} (curl to /dev/null)`);
  engines.forEach((e, i) => {
    const direct = median(figures[i].direct);
    const published = median(figures[i].published);
    const viaHost = host ? `   -p on ${host} ${gib(median(figures[i].host))} (${(median(figures[i].host) / direct).toFixed(2)}x)` : '';
    console.log(
      `${e.name.padEnd(24)} direct ${gib(direct).padStart(12)}   -p on 127.0.0.1 ${gib(published).padStart(12)}   ratio ${(published / direct).toFixed(2)}x${viaHost}`,
    );
  });
  for (const e of engines) docker(e.env, ['rm', '-f', e.id]);
}

runBench(main, started, dir);
