// The HTTP layer's cost per request: GET /containers/json (20 entries) served by a bare
// Node http server writing the same JSON and by @berth/api's ApiServer over an
// in-memory engine, sequential keep-alive requests on unix sockets, interleaved A B A B;
// and, when a Docker engine is installed, GET /_ping and GET /containers/json (no
// containers) on ApiServer and on a dockerd this script starts (no bridge, no iptables
// changes) and stops by its pid. Prints figures, asserts nothing. Needs `npm run build`.
//
//   node bench/api-overhead.js [rounds]     (default 400 requests per measurement)
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { median, startDockerd } = require('./support.js');
const { createApiServer } = require('@berth/api');
const { EventBus } = require('@berth/core');

const rounds = Number(process.argv[2] || 400);
const dir = fs.mkdtempSync('/tmp/berth-bench-api-');
const started = [];

function summary(i) {
  const id = `${i.toString(16).padStart(2, '0')}`.repeat(32);
  return {
    Id: id,
    Names: [`/bench-${i}`],
    Image: 'busybox',
    ImageID: `sha256:${'ab'.repeat(32)}`,
    Command: 'sleep inf',
    Created: 1700000000 + i,
    Ports: [],
    Labels: { 'com.example.bench': String(i) },
    State: 'running',
    Status: 'Up 2 minutes',
    HostConfig: { NetworkMode: 'none' },
    NetworkSettings: { Networks: {} },
    Mounts: [],
  };
}

/** Just what ApiServer touches for these routes: the event bus and the container list. */
function engineWith(list) {
  return {
    events: new EventBus(),
    containers: { list: async () => list },
  };
}

function get(agent, socketPath, urlPath) {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path: urlPath, agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${urlPath}: HTTP ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

/** Median of `rounds` sequential requests on one keep-alive connection, after 50 to warm up. */
async function medianMs(socketPath, urlPath) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 50; i++) await get(agent, socketPath, urlPath);
    const times = [];
    for (let i = 0; i < rounds; i++) {
      const t = process.hrtime.bigint();
      await get(agent, socketPath, urlPath);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return median(times);
  } finally {
    agent.destroy();
  }
}

async function main() {
  const list = Array.from({ length: 20 }, (_, i) => summary(i));
  const api = createApiServer(engineWith(list), { serverVersion: 'bench' });
  const empty = createApiServer(engineWith([]), { serverVersion: 'bench' });
  const bare = http.createServer((_req, res) => {
    const body = `${JSON.stringify(list)}\n`;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  try {
    await api.listen(path.join(dir, 'api.sock'));
    await empty.listen(path.join(dir, 'empty.sock'));
    await new Promise((r) => bare.listen(path.join(dir, 'bare.sock'), r));
    const docker = (await startDockerd(dir, started, { network: 'none' }))?.sock;

    // Interleaved A B A B: the machine is noisy.
    const m = { bare: [], api: [], apiPing: [], apiEmpty: [], dockerPing: [], dockerEmpty: [] };
    for (let i = 0; i < 3; i++) {
      m.bare.push(await medianMs(path.join(dir, 'bare.sock'), '/containers/json?all=1'));
      m.api.push(await medianMs(path.join(dir, 'api.sock'), '/v1.41/containers/json?all=1'));
      m.apiPing.push(await medianMs(path.join(dir, 'empty.sock'), '/_ping'));
      m.apiEmpty.push(await medianMs(path.join(dir, 'empty.sock'), '/v1.41/containers/json?all=1'));
      if (docker) {
        m.dockerPing.push(await medianMs(docker, '/_ping'));
        m.dockerEmpty.push(await medianMs(docker, '/v1.41/containers/json?all=1'));
      }
    }
    const best = (xs) => Math.min(...xs);
    const fmt = (x) => `${x.toFixed(3)} ms`;
    console.log(`median per request, best of 3 interleaved measurements of ${rounds}:`);
    console.log(
      `GET /containers/json (20)  bare node ${fmt(best(m.bare))}  ApiServer ${fmt(best(m.api))}  overhead ${fmt(best(m.api) - best(m.bare))}`,
    );
    if (docker) {
      console.log(
        `GET /_ping                 ApiServer ${fmt(best(m.apiPing))}  dockerd ${fmt(best(m.dockerPing))}  ratio ${(best(m.apiPing) / best(m.dockerPing)).toFixed(2)}x`,
      );
      console.log(
        `GET /containers/json (0)   ApiServer ${fmt(best(m.apiEmpty))}  dockerd ${fmt(best(m.dockerEmpty))}  ratio ${(best(m.apiEmpty) / best(m.dockerEmpty)).toFixed(2)}x`,
      );
    } else {
      console.log(`GET /_ping                 ApiServer ${fmt(best(m.apiPing))}  (no Docker engine installed to compare)`);
    }
  } finally {
    await api.close();
    await empty.close();
    await new Promise((r) => bare.close(() => r()));
  }
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const p of started.reverse()) {
      if (p.exitCode !== null) continue;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10000))]);
    }
    spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
