import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { isBerthError, NotFound } from '@berth/core';
import { ContentStore, chainIds, type Digest, sha256Digest } from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { collect, rejects, withTempDir } from './helpers.js';

async function filesIn(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).sort();
}

test('ingest names a blob by the digest of its bytes, read back intact', () =>
  withTempDir('cs', async (root) => {
    const store = await ContentStore.open(root);
    const data = Buffer.from('hello, blob\n');
    const blob = await store.ingest([data.subarray(0, 5), data.subarray(5)]);
    assert.is(blob.digest, sha256Digest(data));
    assert.is(blob.size, data.length);
    assert.is(store.path(blob.digest), path.join(root, 'blobs', 'sha256', blob.digest.slice(7)));
    assert.ok(await store.has(blob.digest));
    assert.is(await store.size(blob.digest), data.length);
    assert.equal(await collect(await store.get(blob.digest)), data);
    assert.is((await fs.stat(store.path(blob.digest))).mode & 0o777, 0o444);
    assert.equal(await store.list(), [{ digest: blob.digest, size: data.length }]);
    // The same content again is the same blob.
    assert.equal(await store.ingestBytes(data, blob.digest), blob);
    assert.equal(await filesIn(path.join(root, 'blobs', 'ingest')), []);
  }));

test('a stream that does not match the expected digest leaves no blob and no temp file', () =>
  withTempDir('cs', async (root) => {
    const store = await ContentStore.open(root);
    const good = Buffer.from('the real content');
    const expected = sha256Digest(good);
    const corrupt = Buffer.from('the real c0ntent');
    try {
      await store.ingest([corrupt], expected);
      assert.unreachable('corrupt stream was stored');
    } catch (err) {
      assert.ok(isBerthError(err, 'InvalidArgument'), String(err));
      assert.match((err as Error).message, `expected ${expected}`);
      assert.match((err as Error).message, sha256Digest(corrupt));
    }
    assert.not.ok(await store.has(expected));
    assert.not.ok(await store.has(sha256Digest(corrupt)));
    assert.equal(await filesIn(path.join(root, 'blobs', 'sha256')), []);
    assert.equal(await filesIn(path.join(root, 'blobs', 'ingest')), []);
  }));

test('a stream that fails midway leaves no blob and no temp file', () =>
  withTempDir('cs', async (root) => {
    const store = await ContentStore.open(root);
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(100000, 1);
      throw new Error('connection reset');
    }
    await rejects(() => store.ingest(failing()), /connection reset/);
    assert.equal(await filesIn(path.join(root, 'blobs', 'sha256')), []);
    assert.equal(await filesIn(path.join(root, 'blobs', 'ingest')), []);
  }));

test('readJson verifies the blob; get/size/delete of a missing blob is NotFound', () =>
  withTempDir('cs', async (root) => {
    const store = await ContentStore.open(root);
    const { digest } = await store.ingestBytes(JSON.stringify({ a: 1 }));
    assert.equal(await store.readJson(digest), { a: 1 });
    const missing = sha256Digest('nothing') as Digest;
    await rejects(
      () => store.get(missing),
      (e: unknown) => isBerthError(e, 'NotFound') && /no such blob/.test((e as Error).message),
    );
    await rejects(() => store.size(missing), NotFound);
    await rejects(() => store.readJson(missing), NotFound);
    // A blob whose bytes changed on disk is caught when read.
    await fs.chmod(store.path(digest), 0o644);
    await fs.writeFile(store.path(digest), '{"a":2}');
    await rejects(() => store.readJson(digest), /is corrupt/);
    await store.delete(digest);
    assert.not.ok(await store.has(digest));
    await rejects(() => store.delete(digest), NotFound);
    await rejects(() => store.readJson('sha256:nothex' as Digest), /invalid digest format/);
  }));

test('chain IDs follow the OCI definition', () => {
  const a = sha256Digest('layer a');
  const b = sha256Digest('layer b');
  const c = sha256Digest('layer c');
  const chain = chainIds([a, b, c]);
  assert.is(chain[0], a);
  assert.is(chain[1], sha256Digest(`${a} ${b}`));
  assert.is(chain[2], sha256Digest(`${chain[1]} ${c}`));
  assert.equal(chainIds([]), []);
});

test.run();
