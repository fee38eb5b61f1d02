import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { BackgroundRemoval, fsyncDir, type Logger, type SnapshotKind, SystemError, writeJsonAtomic } from '@berth/core';

/** One snapshot as `snapshots/<id>/snapshot.json` records it. */
export interface VfsSnapshotRecord {
  key: string;
  parent?: string;
  kind: SnapshotKind;
  created: string;
  /**
   * The snapshot's labels (SnapshotOptions.labels); absent when it has none, which is
   * also how every record written before labels reads.
   */
  labels?: Record<string, string>;
}

/** A snapshot's directory and its record. */
export interface VfsSnapshot {
  /** Its directory under `snapshots/`: random, unrelated to the key (keys may hold any character). */
  id: string;
  record: VfsSnapshotRecord;
}

const recordFile = 'snapshot.json';

/**
 * The vfs driver's snapshots on disk, each a directory `snapshots/<id>` holding its
 * record (`snapshot.json`) and its files (`fs`). Record and files live and die
 * together, which suits full copies, slow to make:
 *
 * - a new snapshot is staged in `snapshots/.new-<id>` (the copy, then the record) and
 *   appears with one rename, so a crash mid-copy never leaves a named half-copy, and
 *   a snapshot never appears without the labels in its record;
 * - commit rewrites the one record atomically (new name, kind and labels at once);
 * - removal renames the directory out of the way (core's BackgroundRemoval: the
 *   snapshot is gone at once, the rename made durable), then deletes the full copy in
 *   the background; `drain` waits for that.
 *
 * `load` rebuilds the index from the records and deletes `.new-*` and `.removing-*`
 * leftovers. The store checks nothing about the lifecycle; VfsDriver does.
 */
export class VfsSnapshotStore {
  private constructor(
    private readonly dir: string,
    private readonly byKey: Map<string, VfsSnapshot>,
    private readonly removal: BackgroundRemoval,
  ) {}

  static async load(dir: string, log?: Logger): Promise<VfsSnapshotStore> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const byKey = new Map<string, VfsSnapshot>();
    const removal = new BackgroundRemoval(log);
    for (const id of await fs.readdir(dir)) {
      if (BackgroundRemoval.isLeftover(id)) {
        removal.deleteLater(path.join(dir, id));
        continue;
      }
      if (id.startsWith('.new-')) {
        log?.warn('removing an unfinished vfs snapshot directory', { dir: path.join(dir, id) });
        await fs.rm(path.join(dir, id), { recursive: true, force: true });
        continue;
      }
      const file = path.join(dir, id, recordFile);
      let record: VfsSnapshotRecord;
      try {
        record = JSON.parse(await fs.readFile(file, 'utf8')) as VfsSnapshotRecord;
      } catch (err) {
        throw new SystemError(`vfs snapshot record ${file} is unreadable: ${(err as Error).message}`, { cause: err });
      }
      byKey.set(record.key, { id, record });
    }
    return new VfsSnapshotStore(dir, byKey, removal);
  }

  get(key: string): VfsSnapshot | undefined {
    return this.byKey.get(key);
  }

  all(): VfsSnapshot[] {
    return [...this.byKey.values()];
  }

  /** The directory of snapshot `id` (or of a staged one). */
  pathOf(id: string): string {
    return path.join(this.dir, id);
  }

  /** Make an empty staging directory for a new snapshot; returns its eventual id and where to fill it. */
  async stage(): Promise<{ id: string; dir: string }> {
    const id = randomBytes(8).toString('hex');
    const dir = path.join(this.dir, `.new-${id}`);
    await fs.mkdir(dir, { mode: 0o700 });
    return { id, dir };
  }

  /** Record `record` in the staged directory and make the snapshot appear. */
  async publish(staged: { id: string; dir: string }, record: VfsSnapshotRecord): Promise<VfsSnapshot> {
    await writeJsonAtomic(path.join(staged.dir, recordFile), record);
    await fs.rename(staged.dir, this.pathOf(staged.id));
    await fsyncDir(this.dir);
    const snapshot = { id: staged.id, record };
    this.byKey.set(record.key, snapshot);
    return snapshot;
  }

  /** Replace the record of the snapshot known as `key` (its key may change, as on commit). */
  async rewrite(key: string, record: VfsSnapshotRecord): Promise<void> {
    const snapshot = this.byKey.get(key);
    if (!snapshot) throw new SystemError(`vfs: no snapshot ${key} to rewrite`);
    await writeJsonAtomic(path.join(this.pathOf(snapshot.id), recordFile), record);
    this.byKey.delete(key);
    this.byKey.set(record.key, { id: snapshot.id, record });
  }

  /** Forget the snapshot known as `key`; its directory goes at once, its files in the background. */
  async discard(key: string): Promise<void> {
    const snapshot = this.byKey.get(key);
    if (!snapshot) return;
    this.removal.remove(this.pathOf(snapshot.id));
    this.byKey.delete(key);
    await fsyncDir(this.dir);
  }

  /** Resolves once the background deletions of discarded snapshots are done. */
  drain(): Promise<void> {
    return this.removal.drain();
  }
}
