import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { collectGarbage, FilesystemStorage, parseDigest } from '@berth/registry';
import { suiteTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { errorCode, imageManifest, OCI_MANIFEST, pushBlob, pushImage, sha256, tempDir, withRegistry } from './support.js';

suiteTimeout(test, 30_000);

const blobFile = (root: string, digest: string) => {
  const d = parseDigest(digest)!;
  return path.join(root, 'blobs', d.algorithm, d.hex.slice(0, 2), d.hex);
};

/** Dates a blob's last claim back by `ms` (as if it had been pushed that long ago). */
async function age(root: string, digest: string, ms: number): Promise<void> {
  const t = new Date(Date.now() - ms);
  await fs.utimes(blobFile(root, digest), t, t);
}

test('gc deletes unreferenced blobs past the grace period, keeps referenced ones, recent ones and untagged manifests; expires idle uploads', () =>
  withRegistry('gc-basic', async ({ url, root }) => {
    const tagged = await pushImage(url, 'g', 'v1');
    const untagged = await pushImage(url, 'g', 'v2');
    await fetch(`${url}/v2/g/manifests/v2`, { method: 'DELETE' });
    const dropped = await pushImage(url, 'g', 'v3');
    await fetch(`${url}/v2/g/manifests/${dropped.manifest}`, { method: 'DELETE' });
    const orphanOld = await pushBlob(url, 'g', randomBytes(100));
    const orphanNew = await pushBlob(url, 'g', randomBytes(100));
    for (const d of [
      tagged.layer,
      tagged.config,
      tagged.manifest,
      untagged.layer,
      dropped.layer,
      dropped.config,
      dropped.manifest,
      orphanOld,
    ]) {
      await age(root, d, 2 * 3600_000);
    }
    const session = (await fetch(`${url}/v2/g/blobs/uploads/`, { method: 'POST' })).headers.get('location')!;
    const storage = await FilesystemStorage.open(root);
    const dry = await collectGarbage(storage, { dryRun: true });
    assert.equal(dry.deleted.sort(), [dropped.layer, dropped.config, dropped.manifest, orphanOld].sort());
    assert.ok(existsSync(blobFile(root, orphanOld)), 'a dry run deletes nothing');
    const report = await collectGarbage(storage, { uploadExpiryMs: 0 });
    assert.equal(report.deleted.sort(), [dropped.layer, dropped.config, dropped.manifest, orphanOld].sort());
    assert.is(report.keptRecent, 1, 'the orphan pushed just now');
    assert.is(report.uploadsExpired, 1);
    assert.is(await errorCode(await fetch(`${url}${session}`)), 'BLOB_UPLOAD_UNKNOWN');
    for (const d of [tagged.layer, tagged.config]) assert.is((await fetch(`${url}/v2/g/blobs/${d}`)).status, 200);
    assert.is((await fetch(`${url}/v2/g/manifests/${untagged.manifest}`)).status, 200);
    assert.is((await fetch(`${url}/v2/g/blobs/${untagged.layer}`)).status, 200);
    assert.is((await fetch(`${url}/v2/g/blobs/${orphanNew}`)).status, 200);
    assert.is(await errorCode(await fetch(`${url}/v2/g/blobs/${orphanOld}`)), 'BLOB_UNKNOWN');
  }));

test('gc while pushes run: every manifest accepted keeps all its blobs; a push is only ever refused with MANIFEST_BLOB_UNKNOWN', () =>
  withRegistry('gc-concurrent', async ({ url, root }) => {
    // A base layer every push shares, old and unreferenced: the blob a collector and a push race for.
    const baseBytes = randomBytes(4096);
    const base = await pushBlob(url, 'race', baseBytes);
    await age(root, base, 2 * 3600_000);
    const storage = await FilesystemStorage.open(root);
    const accepted: Array<{ manifest: string; blobs: string[] }> = [];
    const refusals: string[] = [];
    let pushing = true;
    const pushes = (async () => {
      for (let i = 0; i < 40; i++) {
        const configBytes = Buffer.from(JSON.stringify({ i, n: randomBytes(4).toString('hex') }));
        const config = await pushBlob(url, 'race', configBytes);
        const manifest = imageManifest({ digest: config, size: configBytes.length }, [{ digest: base, size: baseBytes.length }]);
        const res = await fetch(`${url}/v2/race/manifests/t${i}`, {
          method: 'PUT',
          body: manifest,
          headers: { 'Content-Type': OCI_MANIFEST },
        });
        if (res.status === 201) accepted.push({ manifest: sha256(manifest), blobs: [config, base] });
        else refusals.push(await errorCode(res));
        // The next push finds the base gone if a sweep took it: push it again, as a client would after the refusal.
        if (!(await storage.statBlob(parseDigest(base)!))) {
          await pushBlob(url, 'race', baseBytes);
          await age(root, base, 2 * 3600_000);
        }
        // Untag and age what was pushed, so the collector has candidates all the time.
        await fetch(`${url}/v2/race/manifests/t${i}`, { method: 'DELETE' });
      }
      pushing = false;
    })();
    let collections = 0;
    // A grace period of a second: longer than any push here takes between its claims and its commit
    // (the README's rule for choosing it), far shorter than the base layer's age.
    while (pushing) {
      await collectGarbage(storage, { graceMs: 1000 });
      collections++;
    }
    await pushes;
    assert.ok(collections > 0);
    for (const code of refusals) assert.is(code, 'MANIFEST_BLOB_UNKNOWN');
    assert.is(accepted.length + refusals.length, 40);
    // Every accepted manifest's blobs were present at acceptance; the manifests are untagged but stored, so kept since.
    for (const a of accepted) {
      const res = await fetch(`${url}/v2/race/manifests/${a.manifest}`);
      assert.is(res.status, 200, `manifest ${a.manifest}`);
      for (const b of a.blobs)
        assert.is((await fetch(`${url}/v2/race/blobs/${b}`, { method: 'HEAD' })).status, 200, `blob ${b} of ${a.manifest}`);
    }
  }));

test('sweep and claim are atomic against each other: a claim that answered true always leaves the blob', async () => {
  const { dir, cleanup } = tempDir('gc-atomic');
  try {
    const storage = await FilesystemStorage.open(dir);
    for (let i = 0; i < 200; i++) {
      const bytes = randomBytes(64);
      const digest = parseDigest(sha256(bytes))!;
      await storage.writeBlob(digest, Readable.from([bytes]));
      await age(dir, digest.text, 3600_000);
      const cutoff = new Date(Date.now() - 60_000);
      const [outcome, claimed] = await Promise.all([storage.sweepBlob(digest, cutoff), storage.claimBlob(digest)]);
      const present = (await storage.statBlob(digest)) !== undefined;
      if (claimed) assert.ok(present, `claimed but ${outcome}`);
      assert.is(present, outcome !== 'deleted');
    }
    assert.equal(await fs.readdir(path.join(dir, 'blobs/.swept')), []);
  } finally {
    cleanup();
  }
});

test('an interrupted sweep: the blob held aside is served, claimed and put back; the next collection recovers the rest and takes over the dead lock', async () => {
  const { dir, cleanup } = tempDir('gc-interrupted');
  try {
    const storage = await FilesystemStorage.open(dir);
    const held: string[] = [];
    for (let i = 0; i < 2; i++) {
      const bytes = randomBytes(32);
      const digest = parseDigest(sha256(bytes))!;
      await storage.writeBlob(digest, Readable.from([bytes]));
      await storage.linkBlob('r', digest);
      // What a collector killed between its rename and its decision leaves.
      await fs.rename(blobFile(dir, digest.text), path.join(dir, 'blobs/.swept', `sha256-${digest.hex}`));
      held.push(digest.text);
    }
    const reader = await storage.openBlob(parseDigest(held[0]!)!);
    assert.ok(reader, 'a read puts the blob back');
    await reader!.close();
    // A lock of a process that is gone (pid 2^22+1 does not exist here).
    await fs.writeFile(path.join(dir, 'gc.lock'), JSON.stringify({ pid: 4194305, host: require('node:os').hostname(), startedAt: 'then' }));
    const report = await collectGarbage(storage, { graceMs: 3600_000 });
    assert.is(report.recovered, 1);
    for (const d of held) assert.ok(await storage.statBlob(parseDigest(d)!), d);
    assert.not.ok(existsSync(path.join(dir, 'gc.lock')), 'released');
  } finally {
    cleanup();
  }
});

test('a collector killed with SIGKILL mid-sweep leaves every referenced blob readable, and the next collection finishes', async () => {
  await withRegistry('gc-kill', async ({ url, root }) => {
    const kept = await pushImage(url, 'k', 'v1');
    await age(root, kept.layer, 2 * 3600_000);
    const storage = await FilesystemStorage.open(root);
    // Unreferenced blobs for the sweep to work through, laid out directly (writeBlob's fsyncs would take seconds).
    for (let i = 0; i < 1500; i++) {
      const bytes = randomBytes(16);
      const file = blobFile(root, sha256(bytes));
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, bytes);
    }
    const bin = path.join(__dirname, '../src/bin.ts');
    const proc = spawn(process.execPath, ['--conditions=@berth/source', '-r', 'tsx/cjs', bin, 'gc', '--root', root, '--grace', '0s'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    await new Promise<void>((resolve) => {
      let out = '';
      proc.stdout!.on('data', (d) => {
        out += d;
        // Marking is done and the sweep has begun: kill it a few deletions in.
        if (out.includes('marked')) setTimeout(() => resolve(), 30);
      });
      proc.once('exit', () => resolve());
    });
    proc.kill('SIGKILL');
    await exited;
    for (const d of [kept.layer, kept.config]) assert.is((await fetch(`${url}/v2/k/blobs/${d}`)).status, 200);
    assert.is((await fetch(`${url}/v2/k/manifests/v1`)).status, 200);
    const report = await collectGarbage(storage, { graceMs: 0 });
    assert.ok(report.manifests >= 1);
    let left = 0;
    for await (const _ of storage.listBlobs()) left++;
    assert.is(left, 3, 'only the image is left');
    assert.equal(await fs.readdir(path.join(root, 'blobs/.swept')), []);
  });
});

test('gc removes what killed requests left: a temporary file and a session cut short before its state record', async () => {
  const { dir, cleanup } = tempDir('gc-leftovers');
  try {
    const storage = await FilesystemStorage.open(dir);
    const old = new Date(Date.now() - 2 * 86_400_000);
    await fs.writeFile(path.join(dir, 'tmp/blob-0123456789abcdef'), 'half a blob');
    await fs.utimes(path.join(dir, 'tmp/blob-0123456789abcdef'), old, old);
    await fs.writeFile(path.join(dir, 'tmp/blob-fresh'), 'a monolithic upload in flight');
    const orphan = path.join(dir, 'uploads/6f1c2d3e-0000-4000-8000-000000000000');
    await fs.mkdir(orphan);
    await fs.utimes(orphan, old, old);
    const live = await storage.createUpload('r');
    const report = await collectGarbage(storage);
    assert.is(report.temporariesRemoved, 1);
    assert.is(report.uploadsExpired, 1);
    assert.equal(await fs.readdir(path.join(dir, 'tmp')), ['blob-fresh']);
    assert.not.ok(existsSync(orphan));
    assert.ok(await storage.getUpload('r', live.id), 'a live session stays');
  } finally {
    cleanup();
  }
});

test.run();
