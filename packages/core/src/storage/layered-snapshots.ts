import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { MountSpec } from '../contracts/mount.js';
import { checkSnapshotLabels } from '../contracts/snapshot-labels.js';
import type { PrepareOptions, SnapshotChange, SnapshotInfo, SnapshotKind, SnapshotOptions, SnapshotUsage } from '../contracts/storage.js';
import { Conflict, InvalidArgument } from '../errors.js';
import { BackgroundRemoval } from '../fs/background-removal.js';
import type { Logger } from '../logger.js';
import { directoryUsage } from './directory-usage.js';
import { checkSizeOption } from './snapshot-differ.js';
import { committedParent, type SnapshotRecordBase, SnapshotRecords, snapshotInfo, withLabels } from './snapshot-records.js';
import { type OpaqueTest, upperLayerChanges } from './upper-layer-changes.js';

/** One snapshot as a layered driver records it (in `metadata.json`, core's SnapshotRecords). */
export interface LayeredSnapshotRecord extends SnapshotRecordBase {
  /** Prepared volatile (PrepareOptions.volatile): only an active snapshot with parents, on a driver that serves it. */
  volatile?: true;
}

/**
 * The directories of one union mount a layered driver describes: an active snapshot with
 * parents (its own `fs` the upper layer over theirs), or a view of two parents or more
 * (theirs alone, read-only). Binds (no parent, or a view of one) the store describes itself.
 */
export type LayeredUnion =
  | { kind: 'view' /** The parents' `fs`, nearest first (two or more). */; lowers: string[] }
  | {
      kind: 'active';
      /** The parents' `fs`, nearest first (one or more). */
      lowers: string[];
      /** The snapshot's own `fs`. */
      upper: string;
      /** The snapshot's `work` directory, empty when made (overlay's workdir, a FUSE helper's copy-ups). */
      work: string;
      volatile: boolean;
    };

/** What a layered driver gives the store of its own. */
export interface LayeredSnapshotsOptions {
  /** The driver's name, in errors, log lines and `metadata.json`'s read errors. */
  driver: string;
  /**
   * The mounts of a union (the driver's own: kernel overlayfs, a FUSE helper). Called before
   * anything is made, and again by `mounts`: it only describes, and throws to refuse a
   * union it cannot mount (nothing is then made or recorded).
   */
  unionMounts(union: LayeredUnion): MountSpec[];
  /** Called by `mounts` before it describes a union mounted again (overlay: the volatile marker a last mount left). */
  beforeRemount?(union: LayeredUnion): void;
  /** Whether PrepareOptions.volatile is served; without, it is ignored (the contract allows that). */
  volatile: boolean;
  /** How `changes` tells an opaque directory (its `trusted.overlay.opaque` xattr, read through @berth/native). */
  isOpaque: OpaqueTest;
  log?: Logger;
}

/**
 * The snapshots of a layered storage driver, one directory each, as overlayfs lays them
 * out, for every driver that serves overlay's on-disk format (overlay through the kernel,
 * fuse through a helper): the StorageDriver bookkeeping they share, the union mount
 * alone left to each (LayeredSnapshotsOptions.unionMounts).
 *
 * On disk under the driver's root: `metadata.json` (SnapshotRecords: each key's id,
 * parent, kind, creation time, labels, `volatile`) and `snapshots/<id>/` holding `fs`
 * (its own files: the whole tree of a snapshot without parent, the upper layer of one
 * with parents) and, for an active snapshot with parents, `work`. Ids are small integers,
 * so the paths of a chain stay short (overlay's mount data is one page).
 *
 * Mounts:
 * - active, no parent: a read-write bind of its `fs`;
 * - view of one parent or none: a read-only bind of that parent's `fs` (or its own empty `fs`);
 * - otherwise the driver's union of the parents' `fs`, nearest first, over its own.
 *
 * Lifecycle: `open` loads the records and deletes what a crash left; `create`, `commit`,
 * `remove` change them one at a time; `close` waits for the background deletions.
 *
 * Crash safety: a snapshot's directory is made before its record is written, and its
 * record removed before its directory, which is renamed to `.removing-*` and deleted in
 * the background; `open` deletes directories without a record. Labels are part of the
 * record, so they appear and change with it in one atomic rewrite of `metadata.json`.
 */
export class LayeredSnapshots {
  private readonly snapshotsDir: string;
  private readonly removal: BackgroundRemoval;

  private constructor(
    root: string,
    private readonly records: SnapshotRecords<LayeredSnapshotRecord>,
    private readonly options: LayeredSnapshotsOptions,
  ) {
    this.snapshotsDir = path.join(root, 'snapshots');
    this.removal = new BackgroundRemoval(options.log);
  }

  /** Load the records under `root` (created if missing, absolute) and remove leftovers of a crash. */
  static async open(root: string, options: LayeredSnapshotsOptions): Promise<LayeredSnapshots> {
    await fs.mkdir(path.join(root, 'snapshots'), { recursive: true, mode: 0o700 });
    const records = await SnapshotRecords.load<LayeredSnapshotRecord>(path.join(root, 'metadata.json'), options.driver);
    const store = new LayeredSnapshots(root, records, options);
    await store.removeOrphans();
    return store;
  }

  /** StorageDriver.prepare: no size quota (refused, never ignored). */
  prepare(key: string, parent: string | undefined, options: PrepareOptions): Promise<MountSpec[]> {
    const labels = checkSnapshotLabels(options.labels);
    checkSizeOption(this.options.driver, false, options);
    return this.create('active', key, parent, labels, options.volatile === true && this.options.volatile);
  }

  /** StorageDriver.view. */
  view(key: string, parent: string | undefined, options: SnapshotOptions): Promise<MountSpec[]> {
    return this.create('view', key, parent, checkSnapshotLabels(options.labels), false);
  }

  /** StorageDriver.mounts: those `prepare` or `view` returned, to mount again. */
  mounts(key: string): MountSpec[] {
    const record = this.records.existing(key);
    if (record.kind === 'committed') {
      throw new InvalidArgument(`snapshot ${key} is committed: only active snapshots and views have mounts`);
    }
    return this.mountsOf(record, this.lowerIds(this.records.current(), record.parent), true);
  }

  /** StorageDriver.commit: the committed record carries the labels given here, not the active snapshot's. */
  async commit(name: string, key: string, options: SnapshotOptions): Promise<void> {
    // Volatile is how an active snapshot is mounted; a committed one is only ever a lower layer.
    await this.records.commit(name, key, checkSnapshotLabels(options.labels), ({ volatile: _volatile, ...kept }) => kept);
  }

  /** StorageDriver.remove: the record now, the directory renamed away and deleted in the background (an upper layer can be large). */
  async remove(key: string): Promise<void> {
    const removed = await this.records.remove(key);
    this.removal.remove(this.dirOf(removed.id));
  }

  /** Waits for the background deletions of removed snapshots. */
  async close(): Promise<void> {
    await this.removal.drain();
  }

  stat(key: string): SnapshotInfo {
    return snapshotInfo(key, this.records.existing(key));
  }

  walk(): SnapshotInfo[] {
    return this.records.entries().map(([key, record]) => snapshotInfo(key, record));
  }

  /** Exact: a snapshot's own `fs` holds exactly its changes (directoryUsage). */
  usage(key: string): Promise<SnapshotUsage> {
    return directoryUsage(this.fsOf(this.records.existing(key).id));
  }

  /**
   * StorageDriver.changes, the differ's fast path: read from the snapshot's own `fs`, which
   * holds exactly what changed (upperLayerChanges), instead of comparing whole trees.
   */
  changes(key: string): Promise<SnapshotChange[]> {
    const record = this.records.existing(key);
    if (record.kind !== 'active') throw new InvalidArgument(`snapshot ${key} is a ${record.kind}: only an active snapshot has changes`);
    const lowers = this.lowerIds(this.records.current(), record.parent);
    return upperLayerChanges(
      this.fsOf(record.id),
      lowers.map((id) => this.fsOf(id)),
      this.options.isOpaque,
    );
  }

  private async create(
    kind: SnapshotKind,
    key: string,
    parent: string | undefined,
    labels: Record<string, string>,
    volatile: boolean,
  ): Promise<MountSpec[]> {
    let made: string | undefined;
    try {
      return await this.records.transact(async (draft) => {
        if (draft.records.has(key)) throw new Conflict(`snapshot ${key} already exists`);
        const lowers = this.lowerIds(draft.records, parent);
        const record: LayeredSnapshotRecord = { id: draft.allocateId(), kind, created: new Date().toISOString() };
        if (parent !== undefined) record.parent = parent;
        if (volatile && kind === 'active' && lowers.length > 0) record.volatile = true;
        withLabels(record, labels);
        // Describe first: a union the driver cannot mount is refused before anything is made.
        const mounts = this.mountsOf(record, lowers, false);
        made = this.dirOf(record.id);
        await fs.mkdir(path.join(made, 'fs'), { recursive: true, mode: 0o755 });
        if (kind === 'active' && lowers.length > 0) await fs.mkdir(path.join(made, 'work'), { mode: 0o700 });
        draft.records.set(key, record);
        return mounts;
      });
    } catch (err) {
      if (made) await fs.rm(made, { recursive: true, force: true });
      throw err;
    }
  }

  /** The ids of `parent` and its ancestors, nearest first; checks that `parent` is committed. */
  private lowerIds(records: ReadonlyMap<string, LayeredSnapshotRecord>, parent: string | undefined): number[] {
    const ids: number[] = [];
    for (let name = parent; name !== undefined; ) {
      const record = committedParent(records, name);
      ids.push(record.id);
      name = record.parent;
    }
    return ids;
  }

  private mountsOf(record: LayeredSnapshotRecord, lowerIds: number[], remount: boolean): MountSpec[] {
    const own = this.fsOf(record.id);
    if (record.kind === 'view' && lowerIds.length <= 1) {
      return [{ type: 'bind', source: lowerIds.length === 1 ? this.fsOf(lowerIds[0]!) : own, options: ['rbind', 'ro'] }];
    }
    if (lowerIds.length === 0) return [{ type: 'bind', source: own, options: ['rbind', 'rw'] }];
    const lowers = lowerIds.map((id) => this.fsOf(id));
    const union: LayeredUnion =
      record.kind === 'view'
        ? { kind: 'view', lowers }
        : { kind: 'active', lowers, upper: own, work: path.join(this.dirOf(record.id), 'work'), volatile: record.volatile === true };
    if (remount) this.options.beforeRemount?.(union);
    return this.options.unionMounts(union);
  }

  private dirOf(id: number): string {
    return path.join(this.snapshotsDir, String(id));
  }

  private fsOf(id: number): string {
    return path.join(this.dirOf(id), 'fs');
  }

  /** Directories left by a crash between making a directory and recording it (or the reverse on removal). */
  private async removeOrphans(): Promise<void> {
    const known = this.records.ids();
    for (const name of await fs.readdir(this.snapshotsDir)) {
      if (known.has(Number(name)) && String(Number(name)) === name) continue;
      if (!BackgroundRemoval.isLeftover(name))
        this.options.log?.warn(`removing an unrecorded ${this.options.driver} snapshot directory`, {
          dir: path.join(this.snapshotsDir, name),
        });
      // Through the removal's guard: never a recursive delete into something mounted.
      this.removal.deleteLater(path.join(this.snapshotsDir, name));
    }
    await this.removal.drain();
  }
}
