import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { inject, injectable, token, writeJsonAtomic } from '@berth/core';
import type { ImageStore } from '@berth/image';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { ImageStoreToken } from '../images/image-store-token.js';

/** One entry of the layer cache, `<data-root>/builder/cache/<sha256 of the key>.json`. */
export interface CacheEntry {
  /** The executor's key, whole: a file is only a hit when it holds the very key. */
  key: string;
  image: string;
  created: string;
  /** When a build last took it from the cache (absent: never since it was made). */
  lastUsed?: string;
  usageCount?: number;
}

/** A cache entry with the name of its file: its id in `system df` and `builder prune`. */
export interface ListedCacheEntry extends CacheEntry {
  id: string;
}

/** How long use records wait before they are written: the hits of one build go in one batch, after it. */
const useFlushDelayMs = 50;

/**
 * The layer cache of Dockerfile builds: which image a step made, by the key the executor
 * computes for it (its parent, its instruction, the digest of its inputs). One file per
 * entry, written atomically, so a crash leaves an entry whole or absent and the cache
 * survives restarts. An entry only points at an image: an image removed since (`rmi`,
 * `image prune`) makes its entries misses, and they are dropped when next looked up.
 *
 * Every entry read or written is also kept in memory (this engine is the only writer of
 * the directory), so a step looked up again (each step of a cached rebuild) reads no
 * file: a cached rebuild of 11 steps made 11 reads of the thread pool, about 1 ms each
 * under load. Uses (`lastUsed`, `usageCount`) are noted in memory at once and written
 * in one batch shortly after (renamed over, not synced): a crash may lose a use, never
 * an entry's correctness.
 *
 * Lifecycle: one per engine (container-scoped); `entries`, `remove` and `record` wait
 * for a batch of use records being written, so a removed entry is never written back.
 */
@injectable()
export class BuildCache {
  readonly dir: string;
  /** Entries by file name (the sha256 of the key), as on disk or newer (a use not yet written). */
  private readonly known = new Map<string, CacheEntry>();
  /** File names whose use is noted in `known` and not yet written. */
  private readonly unwritten = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    @inject(ImageStoreToken) private readonly store: ImageStore,
    @inject(EngineConfigToken) config: ResolvedEngineConfig,
  ) {
    this.dir = path.join(config.dataRoot, 'builder', 'cache');
  }

  /** The image id the step with `key` made, if it is still in the image store. */
  async lookup(key: string): Promise<string | undefined> {
    const name = this.nameOf(key);
    let entry = this.known.get(name);
    if (entry === undefined) {
      const file = path.join(this.dir, `${name}.json`);
      try {
        entry = JSON.parse(await fs.readFile(file, 'utf8')) as CacheEntry;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        // Unreadable (a disk error, a hand edit): a miss, and the entry is made again.
        await fs.rm(file, { force: true });
        return undefined;
      }
      // Another lookup of the same key may have read it meanwhile: keep the one in memory.
      entry = this.known.get(name) ?? entry;
      this.known.set(name, entry);
    }
    if (entry.key !== key) return undefined;
    if (!(await this.store.find(entry.image))) {
      await this.remove(name);
      return undefined;
    }
    // Its use, for `system df` and for `builder prune --keep-storage` (least recently used go first).
    entry.lastUsed = new Date().toISOString();
    entry.usageCount = (entry.usageCount ?? 0) + 1;
    this.unwritten.add(name);
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.flushing = this.flushing.then(() => this.writeUses());
    }, useFlushDelayMs);
    this.flushTimer.unref();
    return entry.image;
  }

  /** Every entry whose image is still in the store (the others are dropped). */
  async entries(): Promise<ListedCacheEntry[]> {
    await this.flushing;
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    const out: ListedCacheEntry[] = [];
    for (const name of names.filter((n) => n.endsWith('.tmp'))) await fs.rm(path.join(this.dir, name), { force: true });
    for (const file of names.filter((n) => n.endsWith('.json'))) {
      const name = file.slice(0, -'.json'.length);
      try {
        const entry = this.known.get(name) ?? (JSON.parse(await fs.readFile(path.join(this.dir, file), 'utf8')) as CacheEntry);
        if (await this.store.find(entry.image)) out.push({ ...entry, id: name });
        else await this.remove(name);
      } catch {
        await this.remove(name);
      }
    }
    return out;
  }

  /** Forget the entry `id` (an `entries()` id). */
  async remove(id: string): Promise<void> {
    await this.flushing;
    this.known.delete(id);
    this.unwritten.delete(id);
    await fs.rm(path.join(this.dir, `${id}.json`), { force: true });
  }

  /** Remember that the step with `key` made `imageId`. */
  async record(key: string, imageId: string): Promise<void> {
    await this.flushing;
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const name = this.nameOf(key);
    const entry: CacheEntry = { key, image: imageId, created: new Date().toISOString() };
    await writeJsonAtomic(path.join(this.dir, `${name}.json`), entry);
    this.known.set(name, entry);
    this.unwritten.delete(name);
  }

  /** Write the uses noted since the last batch (each renamed over its entry; a failed one keeps its old use). */
  private async writeUses(): Promise<void> {
    const names = [...this.unwritten];
    this.unwritten.clear();
    for (const name of names) {
      const entry = this.known.get(name);
      if (!entry) continue;
      const file = path.join(this.dir, `${name}.json`);
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await fs.writeFile(tmp, JSON.stringify(entry), { mode: 0o600 });
        await fs.rename(tmp, file);
      } catch {
        await fs.rm(tmp, { force: true }); // the entry keeps its last use on disk: nothing else depends on it
      }
    }
  }

  private nameOf(key: string): string {
    return createHash('sha256').update(key).digest('hex');
  }
}

export const BuildCacheToken = token<BuildCache>('BuildCache');
