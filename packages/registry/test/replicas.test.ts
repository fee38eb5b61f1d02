import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { suiteTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OCI_MANIFEST, pushImage, sha256, tempDir } from './support.js';

suiteTimeout(test, 30_000);

const BIN = path.join(__dirname, '../src/bin.ts');

/** A registry in a process of its own (the package's bin, from source), on an ephemeral port. */
async function startReplica(root: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(
    process.execPath,
    ['--conditions=@berth/source', '-r', 'tsx/cjs', BIN, 'serve', '--addr', '127.0.0.1:0', '--root', root],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.stderr!.on('data', (d) => (out += d));
    proc.on('exit', (code) => reject(new Error(`replica exited (${code}) before listening: ${out}`)));
  });
  return { url, proc };
}

async function stop(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  await exited;
}

test('two replica processes over one root: an upload started on one is continued and finished on the other; both answer the same', async () => {
  const { dir, cleanup } = tempDir('replicas');
  let a: Awaited<ReturnType<typeof startReplica>> | undefined;
  let b: Awaited<ReturnType<typeof startReplica>> | undefined;
  try {
    const root = path.join(dir, 'root');
    [a, b] = await Promise.all([startReplica(root), startReplica(root)]);
    const data = randomBytes(200_000);
    const digest = sha256(data);
    const start = await fetch(`${a.url}/v2/shared/blobs/uploads/`, { method: 'POST' });
    const location = start.headers.get('location')!;
    const p1 = await fetch(`${b.url}${location}`, {
      method: 'PATCH',
      body: data.subarray(0, 80_000),
      headers: { 'Content-Range': '0-79999' },
    });
    assert.is(p1.status, 202);
    const status = await fetch(`${a.url}${location}`);
    assert.is(status.headers.get('range'), '0-79999', 'replica A sees what B received');
    const p2 = await fetch(`${a.url}${location}`, {
      method: 'PATCH',
      body: data.subarray(80_000, 150_000),
      headers: { 'Content-Range': '80000-149999' },
    });
    assert.is(p2.status, 202);
    const outOfOrder = await fetch(`${b.url}${location}`, {
      method: 'PATCH',
      body: data.subarray(80_000, 150_000),
      headers: { 'Content-Range': '80000-149999' },
    });
    assert.is(outOfOrder.status, 416, 'B knows the session moved on');
    const done = await fetch(`${b.url}${location}?digest=${digest}`, { method: 'PUT', body: data.subarray(150_000) });
    assert.is(done.status, 201);
    for (const r of [a, b]) {
      const got = await fetch(`${r.url}/v2/shared/blobs/${digest}`);
      assert.ok(Buffer.from(await got.arrayBuffer()).equals(data));
    }
    // A push through A, read and listed through B, deleted through B, gone on A.
    const img = await pushImage(a.url, 'shared', 'v1');
    const fromB = await fetch(`${b.url}/v2/shared/manifests/v1`);
    assert.is(fromB.headers.get('docker-content-digest'), img.manifest);
    assert.is(fromB.headers.get('content-type'), OCI_MANIFEST);
    const tagsA = await (await fetch(`${a.url}/v2/shared/tags/list`)).json();
    const tagsB = await (await fetch(`${b.url}/v2/shared/tags/list`)).json();
    assert.equal(tagsA, tagsB);
    assert.equal(await (await fetch(`${a.url}/v2/_catalog`)).json(), await (await fetch(`${b.url}/v2/_catalog`)).json());
    assert.is((await fetch(`${b.url}/v2/shared/manifests/${img.manifest}`, { method: 'DELETE' })).status, 202);
    assert.is((await fetch(`${a.url}/v2/shared/manifests/v1`)).status, 404);
  } finally {
    await Promise.all([stop(a?.proc), stop(b?.proc)]);
    cleanup();
  }
});

test.run();
