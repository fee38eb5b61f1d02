// How berthd holds up against hostile clients, beside dockerd when Docker is installed:
//   - a flood of idle connections: how many the daemon holds, how many it closes or
//     refuses, and /_ping's latency (fresh connection each, asked from a process of its
//     own: bench/ping-probe.js) while the flood is opened and held;
//   - 200 concurrent GET /info: how long they take, and /_ping's latency meanwhile;
//   - the daemon's RSS idle, at its peak during both, and after the burst settles.
// Each daemon is started here on a data root of its own under /tmp/berth-bench-hostile-*
// (dockerd with no bridge and no iptables changes), and stopped by its pid. Prints
// figures, asserts nothing. Needs `npm run build`.
//
//   node bench/hostile.js [flood-sockets]        (default 6000; this process needs as many fds)
//   BERTH_BASELINE=/path/to/other/checkout node bench/hostile.js
//                                                 adds a column for that checkout's bin/berthd
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { startPingProbe } = require('./ping-probe.js');
const { benchNetworkArgs, removeBenchNetworks, startDockerd, timedRequest, waitForSocket } = require('./support.js');

const repo = path.resolve(__dirname, '..');
const floodSize = Number(process.argv[2] || 6000);
const dir = fs.mkdtempSync('/tmp/berth-bench-hostile-');
const started = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(xs, p) {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function peakSampler(pid) {
  let peak = rssMiB(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMiB(pid));
  }, 50);
  return () => {
    clearInterval(timer);
    return Math.max(peak, rssMiB(pid));
  };
}

/**
 * Opens `count` idle sockets (nothing sent) in batches; a connect refused because the
 * daemon's accept queue is full (EAGAIN) is counted and retried, as an attacker would.
 */
async function flood(sock, count) {
  const sockets = [];
  const stats = { backlogFull: 0, closedByServer: 0 };
  const open = () =>
    new Promise((resolve) => {
      const s = net.connect(sock);
      s.on('connect', () => {
        sockets.push(s);
        resolve();
      });
      s.on('error', (e) => {
        if (s.connecting || !sockets.includes(s)) {
          if (e.code === 'EAGAIN') stats.backlogFull++;
          setTimeout(() => open().then(resolve), 5);
        }
      });
      s.on('end', () => stats.closedByServer++);
      s.resume();
    });
  for (let i = 0; i < count; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, count - i) }, open));
  }
  return { sockets, stats };
}

async function measure(label, sock, pid) {
  await sleep(2000);
  const idle = rssMiB(pid);
  const peak = peakSampler(pid);

  // The flood, held for 3 s while /_ping is asked.
  const pings = startPingProbe(sock);
  await pings.ready;
  const { sockets, stats } = await flood(sock, floodSize);
  await sleep(3000);
  const held = sockets.filter((s) => !s.destroyed && s.readable).length;
  const floodPings = await pings.stop();
  const [afterFloodMs, afterFloodStatus] = await timedRequest(sock, 'GET /_ping');
  for (const s of sockets) s.destroy();
  await sleep(1000);

  // 200 concurrent /info while /_ping is asked.
  const infoPings = startPingProbe(sock);
  await infoPings.ready;
  const t = Date.now();
  const infos = await Promise.all(Array.from({ length: 200 }, () => timedRequest(sock, 'GET /v1.41/info')));
  const infoTotal = Date.now() - t;
  const infoPingResult = await infoPings.stop();
  const peakRss = peak();

  await sleep(5000);
  const after = rssMiB(pid);
  await sleep(25_000);
  const later = rssMiB(pid);
  return {
    label,
    held: `${held} of ${floodSize}`,
    closedOrRefused: `${stats.closedByServer}`,
    backlogFull: `${stats.backlogFull}`,
    floodPing: `${percentile(floodPings.times, 50).toFixed(1)} / ${percentile(floodPings.times, 99).toFixed(1)} (${floodPings.times.length} ok, ${floodPings.times.filter((t) => t > 50).length} > 50 ms, ${floodPings.failures} failed)`,
    pingAfterFlood: `${afterFloodStatus.startsWith('HTTP/1.1 200') ? 'ok' : afterFloodStatus} ${afterFloodMs.toFixed(1)} ms`,
    infoTotal: `${infoTotal} ms (${infos.filter(([, s]) => s.startsWith('HTTP/1.1 200')).length} ok)`,
    infoPing: `${percentile(infoPingResult.times, 50).toFixed(1)} / ${percentile(infoPingResult.times, 99).toFixed(1)} (${infoPingResult.times.length} ok, ${infoPingResult.failures} failed)`,
    rss: `${idle.toFixed(0)} / ${peakRss.toFixed(0)} / ${after.toFixed(0)} / ${later.toFixed(0)}`,
  };
}

async function startBerthd(name, root) {
  const sub = path.join(dir, name);
  fs.mkdirSync(sub);
  const sock = path.join(sub, 'berthd.sock');
  const log = fs.openSync(path.join(sub, 'berthd.log'), 'w');
  const proc = spawn(
    path.join(root, 'bin/berthd'),
    [
      '--host',
      `unix://${sock}`,
      '--data-root',
      path.join(sub, 'data'),
      '--exec-root',
      path.join(sub, 'exec'),
      '--cgroup-parent',
      `berth-bench-${path.basename(dir).slice(-6)}`,
      '--storage-driver',
      'vfs',
      '--config-file',
      path.join(sub, 'none.json'),
      ...benchNetworkArgs(dir, name.replace(/[^A-Za-z0-9]/g, '').slice(0, 3)),
    ],
    { stdio: ['ignore', log, log], env: { ...process.env, NODE_OPTIONS: '' } },
  );
  started.push(proc);
  await waitForSocket(sock, 30_000);
  return { sock, pid: proc.pid };
}

async function stop(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  await gone;
  clearTimeout(timer);
}

function unmountUnder(root) {
  const mounts = fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter((m) => m && (m === root || m.startsWith(`${root}/`)))
    .reverse();
  for (const m of mounts) spawnSync('umount', ['-l', m]);
}

async function main() {
  const results = [];
  const columns = [['berth', repo]];
  if (process.env.BERTH_BASELINE) columns.push(['berth (baseline)', path.resolve(process.env.BERTH_BASELINE)]);
  for (const [label, root] of columns) {
    const d = await startBerthd(label.replace(/\W+/g, '-'), root);
    results.push(await measure(label, d.sock, d.pid));
    await stop(started[started.length - 1]);
  }
  const docker = await startDockerd(dir, started, { network: 'none' });
  if (docker) {
    results.push(await measure('dockerd', docker.sock, docker.pid));
    await stop(started[started.length - 1]);
  }

  const rows = [
    ['', 'label'],
    ['flood: idle sockets still held after 3 s', 'held'],
    ['flood: closed or refused by the daemon', 'closedOrRefused'],
    ['flood: connects retried, accept queue full', 'backlogFull'],
    ['flood: /_ping p50 / p99 ms', 'floodPing'],
    ['/_ping just after the flood', 'pingAfterFlood'],
    ['200 concurrent /info: all answered in', 'infoTotal'],
    ['during them: /_ping p50 / p99 ms', 'infoPing'],
    ['RSS MiB: idle / peak / 5 s / 30 s after', 'rss'],
  ];
  const width = Math.max(...results.map((r) => Math.max(...rows.map(([, k]) => String(r[k]).length)))) + 2;
  for (const [title, key] of rows) console.log(title.padEnd(42) + results.map((r) => String(r[key]).padEnd(width)).join(''));
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const proc of started) await stop(proc);
    removeBenchNetworks(dir);
    unmountUnder(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });
