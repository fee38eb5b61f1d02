// 200 concurrent GETs of one 10 MB blob over loopback, against berth's registry
// (bin/berth-registry) and Debian's reference registry (/usr/bin/docker-registry,
// docker/distribution) in the same run: each round starts all the GETs at once and
// waits for the last; rounds alternate A B A B. Prints throughput (all bytes over the
// round's wall time) and per-request latency (to the last byte, p50 and p99) for both,
// each server's CPU time per GiB served and peak RSS, and berth's throughput over the
// reference's. The client shares the machine with both servers. Asserts nothing; needs
// `npm run build`.
// Usage: node bench/registry-get.js [rounds] [concurrency] [MiB]   (default 5 200 10)
// Both servers listen on ephemeral loopback ports, keep their storage under
// /tmp/berth-bench-registry-*, and are stopped by their pids.
'use strict';
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const rounds = Number(process.argv[2] || 5);
const concurrency = Number(process.argv[3] || 200);
const mib = Number(process.argv[4] || 10);
const dir = fs.mkdtempSync('/tmp/berth-bench-registry-');
const started = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(url, proc) {
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`${url}: the server exited (${proc.exitCode})`);
    const ok = await fetch(`${url}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing answers on ${url}`);
}

/** CPU time (ms, user + system) a process has used so far, from /proc. */
function cpuMs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function startBerth() {
  const port = await freePort();
  const { NODE_OPTIONS: _, ...env } = process.env;
  const proc = spawn(path.join(repo, 'bin/berth-registry'), ['--addr', `127.0.0.1:${port}`, '--root', path.join(dir, 'berth')], {
    stdio: 'ignore',
    env,
  });
  started.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(url, proc);
  return { url, pid: proc.pid };
}

async function startReference() {
  const port = await freePort();
  const config = path.join(dir, 'reference.yml');
  fs.writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'reference')}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const proc = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: 'ignore' });
  started.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(url, proc);
  return { url, pid: proc.pid };
}

/** A monolithic upload both registries accept: POST for a session, PUT the whole blob with its digest. */
async function push(url, data, digest) {
  const start = await fetch(`${url}/v2/bench/blob/blobs/uploads/`, { method: 'POST' });
  const location = new URL(start.headers.get('location'), url);
  location.searchParams.set('digest', digest);
  const done = await fetch(location, { method: 'PUT', body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  if (done.status !== 201) throw new Error(`${url}: upload answered ${done.status}: ${await done.text()}`);
}

/** One round: `concurrency` GETs at once on fresh connections; the latencies (ms) and the wall time. */
function round(url, digest, size) {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const t0 = process.hrtime.bigint();
  const one = () =>
    new Promise((resolve, reject) => {
      const t = process.hrtime.bigint();
      http
        .get(`${url}/v2/bench/blob/blobs/${digest}`, { agent }, (res) => {
          let got = 0;
          res.on('data', (chunk) => (got += chunk.length));
          res.on('end', () => {
            if (res.statusCode !== 200 || got !== size) reject(new Error(`${url}: status ${res.statusCode}, ${got} of ${size} bytes`));
            else resolve(Number(process.hrtime.bigint() - t) / 1e6);
          });
          res.on('error', reject);
        })
        .on('error', reject);
    });
  return Promise.all(Array.from({ length: concurrency }, one)).then((latencies) => ({
    latencies,
    wallMs: Number(process.hrtime.bigint() - t0) / 1e6,
  }));
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function main() {
  const size = mib * 1024 * 1024;
  const data = crypto.randomBytes(size);
  const digest = `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;
  const targets = { berth: await startBerth(), reference: await startReference() };
  for (const t of Object.values(targets)) await push(t.url, data, digest);
  const results = { berth: { lat: [], bytes: 0, ms: 0, cpu: 0 }, reference: { lat: [], bytes: 0, ms: 0, cpu: 0 } };
  // One warm-up round each (page cache, JIT), not counted.
  for (const t of Object.values(targets)) await round(t.url, digest, size);
  for (let r = 0; r < rounds; r++) {
    for (const [name, t] of r % 2 ? Object.entries(targets).reverse() : Object.entries(targets)) {
      const cpu0 = cpuMs(t.pid);
      const { latencies, wallMs } = await round(t.url, digest, size);
      results[name].cpu += cpuMs(t.pid) - cpu0;
      results[name].lat.push(...latencies);
      results[name].bytes += size * concurrency;
      results[name].ms += wallMs;
    }
  }
  console.log(`${rounds} rounds of ${concurrency} concurrent GETs of a ${mib} MiB blob over loopback (interleaved)`);
  const mbps = {};
  for (const [name, r] of Object.entries(results)) {
    mbps[name] = r.bytes / (1024 * 1024) / (r.ms / 1000);
    console.log(
      `  ${name.padEnd(10)} ${mbps[name].toFixed(0).padStart(6)} MiB/s   latency p50 ${pct(r.lat, 50).toFixed(0).padStart(6)} ms   p99 ${pct(
        r.lat,
        99,
      )
        .toFixed(0)
        .padStart(6)} ms   server CPU ${((r.cpu / r.bytes) * 1024 ** 3).toFixed(0).padStart(5)} ms/GiB`,
    );
  }
  for (const [name, t] of Object.entries(targets)) {
    const peak = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${t.pid}/status`, 'utf8'))[1]);
    console.log(`  ${name.padEnd(10)} peak RSS ${(peak / 1024).toFixed(0)} MiB`);
  }
  console.log(`  berth / reference throughput: ${(mbps.berth / mbps.reference).toFixed(2)}x`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const proc of started) {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
