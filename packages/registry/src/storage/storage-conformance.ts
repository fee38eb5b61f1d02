import * as assert from 'node:assert/strict';
import { PassThrough, Readable, Writable } from 'node:stream';
import { isBerthError } from '@berth/core';
import { type Digest, digestOf } from '../digest.js';
import { DigestMismatch, type RegistryStorage, UploadOffsetMismatch } from './registry-storage.js';

/** One check of the RegistryStorage contract, run on a fresh, empty storage. */
export interface RegistryStorageCase {
  name: string;
  run(storage: RegistryStorage): Promise<void>;
}

const bytesOf = (text: string) => Buffer.from(text, 'utf8');

async function put(storage: RegistryStorage, text: string): Promise<Digest> {
  const bytes = bytesOf(text);
  const digest = digestOf(bytes);
  await storage.writeBlob(digest, Readable.from([bytes]));
  return digest;
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The contract of `RegistryStorage` (its doc comment) as executable checks, for every
 * backend: a backend's tests run each case on a fresh storage (packages/registry's
 * `storage-conformance.test.ts` does for the filesystem). Assertions are node:assert's,
 * so the cases run under any test runner.
 */
export const registryStorageCases: readonly RegistryStorageCase[] = [
  {
    name: 'a blob is published only under its verified digest; a mismatch stores nothing',
    async run(s) {
      const d = await put(s, 'hello');
      assert.equal(await s.statBlob(d), 5);
      const wrong = digestOf(bytesOf('other'));
      await assert.rejects(s.writeBlob(wrong, Readable.from([bytesOf('hello!')])), (e) => e instanceof DigestMismatch);
      assert.equal(await s.statBlob(wrong), undefined);
      assert.equal(await s.openBlob(wrong), undefined);
      // Writing the same content again is idempotent.
      assert.equal(await s.writeBlob(d, Readable.from([bytesOf('hello')])), 5);
    },
  },
  {
    name: 'a blob reads whole, by range, and small ones at once; a reader closed unread releases it',
    async run(s) {
      const d = await put(s, '0123456789');
      const r = (await s.openBlob(d))!;
      assert.equal(r.size, 10);
      assert.equal(await readAll(r.stream(2, 5)), '2345');
      const again = (await s.openBlob(d))!;
      assert.equal(await readAll(again.stream()), '0123456789');
      await (await s.openBlob(d))!.close();
      assert.equal((await s.readBlob(d, 100))!.toString(), '0123456789');
      await assert.rejects(s.readBlob(d, 5));
    },
  },
  {
    name: 'a blob is written to a destination whole or by range; a destination that closes early fails the transfer',
    async run(s) {
      const big = Buffer.alloc(3 << 20, 7);
      big.write('head', 0);
      big.write('tail', big.length - 4);
      const d = digestOf(big);
      await s.writeBlob(d, Readable.from([big]));
      const collect = async (start?: number, end?: number) => {
        const sink = new PassThrough();
        const text = readAll(sink);
        await (await s.openBlob(d))!.writeTo(sink, start, end);
        sink.end();
        return text;
      };
      assert.equal((await collect()).length, big.length);
      assert.equal(await collect(0, 3), 'head');
      assert.equal(await collect(big.length - 4, big.length - 1), 'tail');
      const gone = new Writable({
        write(_chunk, _enc, cb) {
          this.destroy();
          cb();
        },
      });
      await assert.rejects((await s.openBlob(d))!.writeTo(gone));
      const empty = await put(s, '');
      const sink = new PassThrough();
      await (await s.openBlob(empty))!.writeTo(sink);
      sink.end();
      assert.equal(await readAll(sink), '');
    },
  },
  {
    name: 'repositories hold links: link, has, list, unlink; repositories are listed sorted, nested ones too',
    async run(s) {
      const d = await put(s, 'layer');
      assert.equal(await s.repositoryExists('a/b'), false);
      await s.linkBlob('a/b', d);
      await s.linkBlob('a/b', d);
      await s.linkBlob('a', d);
      await s.linkBlob('c', d);
      assert.equal(await s.hasBlobLink('a/b', d), true);
      assert.equal(await s.hasBlobLink('c/d', d), false);
      assert.deepEqual(
        (await s.listBlobLinks('a/b')).map((x) => x.text),
        [d.text],
      );
      assert.deepEqual(await s.listRepositories(), ['a', 'a/b', 'c']);
      assert.equal(await s.unlinkBlob('a/b', d), true);
      assert.equal(await s.unlinkBlob('a/b', d), false);
      assert.equal(await s.hasBlobLink('a/b', d), false);
    },
  },
  {
    name: 'manifests and tags: a tag is replaced atomically, listed sorted; deleting a manifest deletes its tags',
    async run(s) {
      const m1 = await put(s, '{"m":1}');
      const m2 = await put(s, '{"m":2}');
      await s.putManifest('r', { digest: m1.text, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 7 });
      await s.putManifest('r', { digest: m2.text, mediaType: 'application/vnd.oci.image.index.v1+json', size: 7 });
      assert.equal((await s.getManifest('r', m1))!.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.equal(await s.getManifest('other', m1), undefined);
      await s.setTag('r', 'latest', m1);
      await s.setTag('r', 'v1', m1);
      await s.setTag('r', 'latest', m2);
      assert.equal((await s.getTag('r', 'latest'))!.text, m2.text);
      assert.deepEqual(await s.listTags('r'), ['latest', 'v1']);
      assert.equal((await s.listManifests('r')).length, 2);
      assert.equal(await s.deleteManifest('r', m1), true);
      assert.deepEqual(await s.listTags('r'), ['latest']);
      assert.equal(await s.deleteManifest('r', m1), false);
      assert.equal(await s.deleteTag('r', 'latest'), true);
      assert.equal(await s.getTag('r', 'latest'), undefined);
    },
  },
  {
    name: 'referrers are recorded per subject and removed one by one',
    async run(s) {
      const subject = digestOf(bytesOf('subject'));
      const a = digestOf(bytesOf('a'));
      await s.addReferrer('r', subject, {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: a.text,
        size: 1,
        artifactType: 'x/y',
      });
      assert.deepEqual(
        (await s.listReferrers('r', subject)).map((x) => [x.digest, x.artifactType]),
        [[a.text, 'x/y']],
      );
      assert.deepEqual(await s.listReferrers('other', subject), []);
      await s.removeReferrer('r', subject, a);
      assert.deepEqual(await s.listReferrers('r', subject), []);
    },
  },
  {
    name: 'upload sessions: bound to their repository, appended in order only, verified at completion, then linked and forgotten',
    async run(s) {
      const session = await s.createUpload('r');
      assert.equal(session.size, 0);
      assert.equal(await s.getUpload('other', session.id), undefined);
      await s.appendUpload('r', session.id, Readable.from([bytesOf('abc')]), 0);
      await assert.rejects(s.appendUpload('r', session.id, Readable.from([bytesOf('xyz')]), 5), (e) => e instanceof UploadOffsetMismatch);
      assert.equal((await s.getUpload('r', session.id))!.size, 3);
      await s.appendUpload('r', session.id, Readable.from([bytesOf('def')]));
      assert.equal((await s.listUploads()).length, 1);
      const d = digestOf(bytesOf('abcdef'));
      assert.equal(await s.completeUpload('r', session.id, d), 6);
      assert.equal(await s.hasBlobLink('r', d), true);
      assert.equal(await s.statBlob(d), 6);
      assert.equal(await s.getUpload('r', session.id), undefined);
      await assert.rejects(s.appendUpload('r', session.id, Readable.from([bytesOf('x')])), (e) => isBerthError(e, 'NotFound'));
    },
  },
  {
    name: 'upload sessions: two completions of one session racing (replicas) publish it once; the loser finds it unknown',
    async run(s) {
      const session = await s.createUpload('r');
      await s.appendUpload('r', session.id, Readable.from([Buffer.alloc(1 << 20, 1)]));
      const d = digestOf(Buffer.alloc(1 << 20, 1));
      const results = await Promise.allSettled([s.completeUpload('r', session.id, d), s.completeUpload('r', session.id, d)]);
      assert.ok(results.some((r) => r.status === 'fulfilled'));
      for (const r of results) if (r.status === 'rejected') assert.ok(isBerthError(r.reason, 'NotFound'), String(r.reason));
      assert.equal(await s.statBlob(d), 1 << 20);
      assert.equal(await s.hasBlobLink('r', d), true);
    },
  },
  {
    name: 'upload sessions: a digest mismatch forgets the session and stores nothing; cancel and expire forget one',
    async run(s) {
      const session = await s.createUpload('r');
      await s.appendUpload('r', session.id, Readable.from([bytesOf('abc')]));
      const wrong = digestOf(bytesOf('nope'));
      await assert.rejects(s.completeUpload('r', session.id, wrong), (e) => e instanceof DigestMismatch);
      assert.equal(await s.getUpload('r', session.id), undefined);
      assert.equal(await s.statBlob(wrong), undefined);
      const other = await s.createUpload('r');
      assert.equal(await s.cancelUpload('r', other.id), true);
      assert.equal(await s.cancelUpload('r', other.id), false);
      const third = await s.createUpload('r');
      await s.expireUpload(third.id);
      assert.deepEqual(await s.listUploads(), []);
      assert.equal(typeof (await s.removeStaleTemporaries(new Date())), 'number');
    },
  },
  {
    name: 'claims and sweeps: a blob claimed since the cutoff stays, an older one goes, a claim after the sweep fails',
    async run(s) {
      const d = await put(s, 'claimed');
      const listed = [];
      for await (const b of s.listBlobs()) listed.push(b);
      assert.deepEqual(
        listed.map((b) => b.digest),
        [d.text],
      );
      assert.ok(listed[0]!.claimedAt.getTime() <= Date.now());
      assert.equal(await s.sweepBlob(d, new Date(Date.now() - 60_000)), 'kept');
      assert.equal(await s.claimBlob(d), true);
      assert.equal(await s.sweepBlob(d, new Date(Date.now() + 60_000)), 'deleted');
      assert.equal(await s.statBlob(d), undefined);
      assert.equal(await s.claimBlob(d), false);
      assert.equal(await s.sweepBlob(d, new Date()), 'absent');
      assert.equal(await s.recoverSweep(), 0);
    },
  },
  {
    name: 'sweep and claim racing: a claim that answered true always leaves the blob',
    async run(s) {
      for (let i = 0; i < 50; i++) {
        const d = await put(s, `race ${i}`);
        // The cutoff falls after the write and before the claim: the claim protects, nothing else does.
        await new Promise((resolve) => setTimeout(resolve, 3));
        const cutoff = new Date();
        const [outcome, claimed] = await Promise.all([s.sweepBlob(d, cutoff), s.claimBlob(d)]);
        const present = (await s.statBlob(d)) !== undefined;
        if (claimed) assert.ok(present, `claimed, yet the sweep says ${outcome}`);
        assert.equal(present, outcome !== 'deleted');
      }
    },
  },
  {
    name: 'one collector at a time: a second lock is a Conflict until the first is released',
    async run(s) {
      const release = await s.lockCollector();
      await assert.rejects(s.lockCollector(), (e) => isBerthError(e, 'Conflict'));
      await release();
      await (await s.lockCollector())();
    },
  },
];
