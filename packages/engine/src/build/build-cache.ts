import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, renameSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * The layer cache of Dockerfile builds: which image a step made, by the key the executor
 * computes for it (its parent, its instruction, the digest of its inputs). One file per
 * entry, written atomically, so a crash leaves an entry whole or absent and the cache
 * survives restarts. An entry only points at an image: an image removed since (`rmi`,
 * `image prune`) makes its entries misses, and they are dropped when next looked up.
 */
@injectable()
export class BuildCache {
  readonly dir: string;

  constructor(
    @inject(ImageStoreToken) private readonly store: ImageStore,
    @inject(EngineConfigToken) config: ResolvedEngineConfig,
  ) {
    this.dir = path.join(config.dataRoot, 'builder', 'cache');
  }

  /** The image id the step with `key` made, if it is still in the image store. */
  async lookup(key: string): Promise<string | undefined> {
    const file = this.fileOf(key);
    let entry: CacheEntry;
    try {
      entry = JSON.parse(await fs.readFile(file, 'utf8')) as CacheEntry;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      // Unreadable (a disk error, a hand edit): a miss, and the entry is made again.
      await fs.rm(file, { force: true });
      return undefined;
    }
    if (entry.key !== key) return undefined;
    if (!(await this.store.find(entry.image))) {
      await fs.rm(file, { force: true });
      return undefined;
    }
    // Its use, for `system df` and for `builder prune --keep-storage` (least recently used
    // go first). Renamed over, not synced: a crash may lose a use, or the entry (a miss,
    // made again), never a step's correctness; syncing each hit would cost a cached build.
    // Written once the build's next steps had their turn: a hit does not wait for the disk.
    const touched = { ...entry, lastUsed: new Date().toISOString(), usageCount: (entry.usageCount ?? 0) + 1 };
    setImmediate(() => {
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        writeFileSync(tmp, JSON.stringify(touched), { mode: 0o600 });
        renameSync(tmp, file);
      } catch {
        rmSync(tmp, { force: true }); // the entry keeps its last use: nothing else depends on it
      }
    });
    return entry.image;
  }

  /** Every entry whose image is still in the store (the others are dropped). */
  async entries(): Promise<ListedCacheEntry[]> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    const out: ListedCacheEntry[] = [];
    for (const name of names.filter((n) => n.endsWith('.tmp'))) await fs.rm(path.join(this.dir, name), { force: true });
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      const file = path.join(this.dir, name);
      try {
        const entry = JSON.parse(await fs.readFile(file, 'utf8')) as CacheEntry;
        if (await this.store.find(entry.image)) out.push({ ...entry, id: name.slice(0, -'.json'.length) });
        else await fs.rm(file, { force: true });
      } catch {
        await fs.rm(file, { force: true });
      }
    }
    return out;
  }

  /** Forget the entry `id` (an `entries()` id). */
  async remove(id: string): Promise<void> {
    await fs.rm(path.join(this.dir, `${id}.json`), { force: true });
  }

  /** Remember that the step with `key` made `imageId`. */
  async record(key: string, imageId: string): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const entry: CacheEntry = { key, image: imageId, created: new Date().toISOString() };
    await writeJsonAtomic(this.fileOf(key), entry);
  }

  private fileOf(key: string): string {
    return path.join(this.dir, `${createHash('sha256').update(key).digest('hex')}.json`);
  }
}

export const BuildCacheToken = token<BuildCache>('BuildCache');
