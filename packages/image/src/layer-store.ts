import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { NotFound, writeJsonAtomic } from '@berth/core';
import type { Compression } from './compression.js';
import type { ContentStore } from './content-store.js';
import { type Digest, digestHex, isDigest } from './digest.js';

/**
 * A layer the store can hand to a storage driver: which blob holds the tar whose
 * uncompressed bytes hash to `diffId`. The blob may be compressed (pulled layers, gzip
 * layers inside archives); `applyLayer` reads any of them.
 */
export interface LayerRecord {
  diffId: Digest;
  /** The content-store blob holding the layer, as stored (maybe compressed). */
  digest: Digest;
  compression: Compression;
  /** Sum of the regular files' sizes: what Docker reports as the layer's size. */
  size: number;
  /** Bytes of the uncompressed tar (what `docker save` writes as layer.tar). */
  tarSize: number;
  /**
   * For a layer stored uncompressed: the digest and size of the gzip a push sent of it
   * (`rememberGzip`), so a later push (after a restart too) asks the registry whether it
   * has that blob before compressing anything, as dockerd's distribution metadata does.
   */
  pushedGzip?: { digest: Digest; size: number };
}

/**
 * The index from diffID to layer blob: `<root>/images/layers/<diffhex>.json`, one
 * small file per layer written atomically. Images name layers by diffID (their config
 * says so); this index says where the bytes are. Registering a layer that is already
 * known keeps the first record while its blob exists.
 */
export class LayerStore {
  private readonly dir: string;
  private readonly records = new Map<Digest, LayerRecord>();

  private constructor(
    root: string,
    private readonly content: ContentStore,
  ) {
    this.dir = path.join(root, 'images', 'layers');
  }

  /** Open (creating when needed) the index under the data root `root`. */
  static async open(root: string, content: ContentStore): Promise<LayerStore> {
    const store = new LayerStore(root, content);
    await fs.mkdir(store.dir, { recursive: true, mode: 0o700 });
    for (const name of await fs.readdir(store.dir)) {
      if (!name.endsWith('.json')) continue;
      const record = JSON.parse(await fs.readFile(path.join(store.dir, name), 'utf8')) as LayerRecord;
      if (!isDigest(record.diffId) || !isDigest(record.digest)) continue;
      if (record.pushedGzip && (!isDigest(record.pushedGzip.digest) || !Number.isSafeInteger(record.pushedGzip.size)))
        delete record.pushedGzip;
      store.records.set(record.diffId, record);
    }
    return store;
  }

  get(diffId: Digest): LayerRecord | undefined {
    return this.records.get(diffId);
  }

  /** The record of a layer; NotFound when no blob for it is known. */
  require(diffId: Digest): LayerRecord {
    const record = this.records.get(diffId);
    if (!record) throw new NotFound(`no such layer: ${diffId}`);
    return record;
  }

  /** Record where a layer's bytes are. The blob must already be in the content store. */
  async register(record: LayerRecord): Promise<LayerRecord> {
    const existing = this.records.get(record.diffId);
    if (existing && (await this.content.has(existing.digest))) return existing;
    if (!(await this.content.has(record.digest))) throw new NotFound(`no such blob: ${record.digest} (layer ${record.diffId})`);
    const clean: LayerRecord = {
      diffId: record.diffId,
      digest: record.digest,
      compression: record.compression,
      size: record.size,
      tarSize: record.tarSize,
    };
    await writeJsonAtomic(this.file(record.diffId), clean);
    this.records.set(record.diffId, clean);
    return clean;
  }

  /**
   * Remember the gzip a push made of a registered layer (see `LayerRecord.pushedGzip`):
   * the record rewritten atomically. Advisory: a crash loses at most this memory, and a
   * layer removed meanwhile keeps no record (the write is undone).
   */
  async rememberGzip(diffId: Digest, gzip: { digest: Digest; size: number }): Promise<void> {
    const record = this.records.get(diffId);
    if (record?.compression !== 'none') return;
    if (record.pushedGzip?.digest === gzip.digest) return;
    const updated: LayerRecord = { ...record, pushedGzip: { digest: gzip.digest, size: gzip.size } };
    await writeJsonAtomic(this.file(diffId), updated);
    if (this.records.get(diffId) === record) this.records.set(diffId, updated);
    // Removed while the record was being written: take the file away again.
    else if (!this.records.has(diffId)) await fs.rm(this.file(diffId), { force: true });
  }

  /** Forget a layer (its blob is the caller's to delete). */
  async remove(diffId: Digest): Promise<void> {
    this.records.delete(diffId);
    await fs.rm(this.file(diffId), { force: true });
  }

  list(): LayerRecord[] {
    return [...this.records.values()];
  }

  private file(diffId: Digest): string {
    return path.join(this.dir, `${digestHex(diffId)}.json`);
  }
}
