import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { inject, injectable, token, writeJsonAtomic } from '@berth/core';
import type { ImageStore } from '@berth/image';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { ImageStoreToken } from '../images/image-store-token.js';

/** One entry of the layer cache, `<data-root>/builder/cache/<sha256 of the key>.json`. */
interface CacheEntry {
  /** The executor's key, whole: a file is only a hit when it holds the very key. */
  key: string;
  image: string;
  created: string;
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
    return entry.image;
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
