import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createApiServer } from '../src/index.js';
import { FakeEngine } from './support/fake-engine.js';

/**
 * The API layer's cost on `GET /containers/json`: the same list served by a bare Node
 * http server and by ApiServer, sequential keep-alive requests, medians compared.
 */
const rounds = 400;

function get(agent: http.Agent, socketPath: string, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path, agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
}

async function medianMs(socketPath: string, path: string): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 50; i++) await get(agent, socketPath, path);
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t = process.hrtime.bigint();
      await get(agent, socketPath, path);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)]!;
  } finally {
    agent.destroy();
  }
}

test('ApiServer adds well under 1 ms to GET /containers/json', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-api-perf-');
  const engine = new FakeEngine();
  for (let i = 0; i < 20; i++) await engine.containers.create({ Image: 'busybox', Cmd: ['sleep', 'inf'] }, `bapi-p${i}`);
  const list = await engine.containers.list({ all: true });
  engine.containers.list = async () => list;
  const api = createApiServer(engine, { serverVersion: 'x' });
  const bare = http.createServer((_req, res) => {
    const body = `${JSON.stringify(list)}\n`;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  try {
    await api.listen(join(dir, 'api.sock'));
    await new Promise<void>((r) => bare.listen(join(dir, 'bare.sock'), r));
    // Interleave A B A B: this machine is noisy.
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 3; i++) {
      b.push(await medianMs(join(dir, 'bare.sock'), '/containers/json?all=1'));
      a.push(await medianMs(join(dir, 'api.sock'), '/v1.41/containers/json?all=1'));
    }
    const api_ = Math.min(...a);
    const bare_ = Math.min(...b);
    console.log(
      `  GET /containers/json (20 entries), median per request: bare node ${bare_.toFixed(3)} ms, ApiServer ${api_.toFixed(3)} ms, overhead ${(api_ - bare_).toFixed(3)} ms`,
    );
    assert.ok(api_ - bare_ < 1, `overhead ${api_ - bare_} ms`);
  } finally {
    await api.close();
    await new Promise<void>((r) => bare.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
