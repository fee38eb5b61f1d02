import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { inject, injectable, token } from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';

/** What a RUN step asks of a cache mount (`RUN --mount=type=cache`). */
export interface CacheMountRequest {
  id: string;
  sharing: 'shared' | 'private' | 'locked';
  uid?: number;
  gid?: number;
  mode?: number;
}

/**
 * The directories of `RUN --mount=type=cache`, kept between builds (and across restarts)
 * under `<data-root>/builder/cache-mounts/<sha256 of the id>`, made on first use with the
 * mount's owner and mode. Sharing, as BuildKit has it: `shared` lets every step use the
 * directory at once; `locked` gives it to one step at a time (the others wait);
 * `private` gives a step that finds it in use an empty directory of its own, removed
 * when the step ends (and by `recover` after a crash). Counts of use are in memory: no
 * step outlives the engine.
 */
@injectable()
export class CacheMounts {
  readonly root: string;
  private readonly users = new Map<string, number>();
  private readonly locks = new Map<string, Promise<void>>();

  constructor(@inject(EngineConfigToken) config: ResolvedEngineConfig) {
    this.root = path.join(config.dataRoot, 'builder', 'cache-mounts');
  }

  /** The directory for one step's use, and its release (call it once the step's container is gone). */
  async acquire(request: CacheMountRequest): Promise<{ dir: string; release(): void }> {
    const key = createHash('sha256').update(request.id).digest('hex');
    const shared = path.join(this.root, key);
    if (request.sharing === 'private' && (this.users.get(key) ?? 0) > 0) {
      const dir = path.join(this.root, `private-${randomBytes(8).toString('hex')}`);
      await this.make(dir, request);
      return { dir, release: () => void fs.rm(dir, { recursive: true, force: true }).catch(() => undefined) };
    }
    let unlock = () => {};
    if (request.sharing === 'locked') {
      // Each user waits for the one before it; the last in line is in `locks`.
      const previous = this.locks.get(key) ?? Promise.resolve();
      let done = () => {};
      const mine = new Promise<void>((resolve) => {
        done = resolve;
      });
      this.locks.set(key, mine);
      await previous;
      unlock = () => {
        done();
        if (this.locks.get(key) === mine) this.locks.delete(key);
      };
    }
    this.users.set(key, (this.users.get(key) ?? 0) + 1);
    await this.make(shared, request);
    let released = false;
    return {
      dir: shared,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.users.get(key) ?? 1) - 1;
        if (left > 0) this.users.set(key, left);
        else this.users.delete(key);
        unlock();
      },
    };
  }

  /** At engine start: the private directories of steps a crash cut short. */
  async recover(): Promise<void> {
    const names = await fs.readdir(this.root).catch(() => [] as string[]);
    for (const name of names) if (name.startsWith('private-')) await fs.rm(path.join(this.root, name), { recursive: true, force: true });
  }

  private async make(dir: string, request: CacheMountRequest): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    try {
      await fs.mkdir(dir, { mode: request.mode ?? 0o755 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw err;
    }
    await fs.chmod(dir, request.mode ?? 0o755);
    await fs.chown(dir, request.uid ?? 0, request.gid ?? 0);
  }
}

export const CacheMountsToken = token<CacheMounts>('CacheMounts');
