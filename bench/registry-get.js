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
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { cpuMs, runBench, startRegistry } = require('./support.js');

const rounds = Number(process.argv[2] || 5);
const concurrency = Number(process.argv[3] || 200);
const mib = Number(process.argv[4] || 10);
const dir = fs.mkdtempSync('/tmp/berth-bench-registry-');
const started = [];

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
  const targets = {
    berth: await startRegistry('berth', path.join(dir, 'berth'), started),
    reference: await startRegistry('reference', path.join(dir, 'reference'), started),
  };
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

runBench(main, started, dir);
