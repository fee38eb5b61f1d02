// A stand-in daemon for `docker stats --no-stream` that answers at once: `/containers/json`
// lists N running containers and each `/containers/{id}/stats?stream=0` gets a canned
// sample (a berthd sample's shape), so timing the docker CLI against it gives the CLI's own
// share of a `stats --no-stream` with N containers: its start-up, its 500 ms ticker, and
// its per-container requests and decoding, which no daemon can save. bench/stats-ps.js
// runs it (as bench/exec.js runs instant-exec-daemon.js).
// Usage: node bench/instant-stats-daemon.js SOCKET COUNT   (prints "ready" once listening)
'use strict';
const fs = require('node:fs');
const http = require('node:http');

const socket = process.argv[2];
const count = Number(process.argv[3] || 50);
// Distinct 12-character prefixes: the CLI asks for each container's stats by its short id.
const ids = Array.from({ length: count }, (_, i) => `${i.toString(16).padStart(12, '0')}${'a'.repeat(52)}`);
const json = (res, status, value) => {
  const text = `${JSON.stringify(value)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Api-Version': '1.41', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
};
const list = ids.map((id, i) => ({
  Id: id,
  Names: [`/bench-${i}`],
  Image: 'busybox',
  ImageID: `sha256:${'b'.repeat(64)}`,
  Command: 'sleep 3000',
  Created: 1700000000,
  Ports: [],
  Labels: {},
  State: 'running',
  Status: 'Up 1 minute',
  HostConfig: { NetworkMode: 'none' },
  NetworkSettings: { Networks: {} },
  Mounts: [],
}));
const now = () => new Date().toISOString();
const cpu = (total) => ({
  cpu_usage: { total_usage: total, usage_in_kernelmode: 0, usage_in_usermode: total, percpu_usage: [total, 0] },
  system_cpu_usage: 1e12 + total * 1000,
  online_cpus: 2,
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
});
const sample = (id, i) => ({
  name: `/bench-${i}`,
  id,
  read: now(),
  preread: now(),
  num_procs: 0,
  pids_stats: { current: 1, limit: 4915 },
  cpu_stats: cpu(2000000),
  precpu_stats: cpu(1000000),
  memory_stats: { usage: 200704, max_usage: 1048576, limit: 8e9, stats: { cache: 0, rss: 106496, total_inactive_file: 0 }, failcnt: 0 },
  blkio_stats: {
    io_service_bytes_recursive: [],
    io_serviced_recursive: [],
    io_queue_recursive: [],
    io_service_time_recursive: [],
    io_wait_time_recursive: [],
    io_merged_recursive: [],
    io_time_recursive: [],
    sectors_recursive: [],
  },
  storage_stats: {},
});
const server = http.createServer((req, res) => {
  const url = req.url.replace(/^\/v1\.\d+/, '');
  if (url.startsWith('/_ping')) {
    res.writeHead(200, { 'Api-Version': '1.41', 'Content-Type': 'text/plain', 'Content-Length': 2 });
    return res.end(req.method === 'HEAD' ? undefined : 'OK');
  }
  if (url.startsWith('/containers/json')) return json(res, 200, list);
  const m = /^\/containers\/([0-9a-f]{12,64})\/stats/.exec(url);
  const i = m ? ids.findIndex((id) => id.startsWith(m[1])) : -1;
  if (i >= 0) return json(res, 200, sample(ids[i], i));
  if (url.startsWith('/events')) {
    // The CLI watches events while it collects: keep the stream open, send nothing.
    res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': '1.41' });
    return res.flushHeaders();
  }
  json(res, 404, { message: `instant-stats-daemon: unexpected ${req.method} ${req.url}` });
});
fs.rmSync(socket, { force: true });
server.listen(socket, () => console.log('ready'));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
