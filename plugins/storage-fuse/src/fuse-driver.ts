import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  BackgroundRemoval,
  backingFilesystem,
  Conflict,
  checkSizeOption,
  checkSnapshotLabels,
  type DriverStatus,
  InvalidArgument,
  type Logger,
  type MountSpec,
  NotFound,
  type PrepareOptions,
  type SnapshotChange,
  type SnapshotInfo,
  type SnapshotKind,
  type SnapshotOptions,
  SnapshotRecords,
  type SnapshotUsage,
  type StorageCapabilities,
  type StorageDriver,
  snapshotInfo,
  withLabels,
} from '@berth/core';
import type { FuseMetadata, FuseSnapshotRecord } from './fuse-metadata.js';
import { helperCommand } from './helper-command.js';
import { directoryUsage, upperChanges } from './upper-changes.js';

/** The mount type of a union served by the helper (`fuse.<subtype>` as mountinfo shows it). */
export const FUSE_MOUNT_TYPE = 'fuse.berth';

/** Options of FuseDriver beyond its root. */
export interface FuseDriverOptions {
  log?: Logger;
  /** The helper's argv prefix (default: this Node and the compiled mount-helper-main.js). */
  helper?: readonly string[];
}

/**
 * The `fuse` storage driver: overlay's layout and on-disk format, served by a union
 * filesystem in userspace (UnionFilesystem) instead of the kernel's overlayfs. Each
 * snapshot is `<root>/snapshots/<id>` holding `fs` (its own files: the whole tree
 * without a parent, the upper layer with one) and, for active snapshots with parents,
 * `work` (where the helper makes copy-ups before renaming them into place). A layer's
 * `fs` is the same bytes kernel overlayfs would have left (whiteouts are 0:0 character
 * devices, opaque directories carry `trusted.overlay.opaque=y`).
 *
 * Mounts it describes (never performs):
 * - active, no parent: a read-write bind of its `fs`;
 * - active with parents: `fuse.berth`, served by the mount helper (MountSpec.helper),
 *   options `lowerdir=<parents' fs, nearest first>`, `upperdir`, `workdir`;
 * - view: a read-only bind of the only parent's `fs` (or its own empty `fs`), or a
 *   lowerdir-only (read-only) `fuse.berth` mount for two parents or more.
 * No depth limit of its own: the lowerdirs travel in the helper's argv, not in mount(2)'s
 * one page of option data.
 *
 * Crash safety: a snapshot's directory is made before its record is written and its
 * record removed before its directory, which is renamed to `.removing-*` and deleted in
 * the background (`close` waits); `open` deletes directories without a record. Labels
 * live in the record, written with it in one atomic rewrite of `metadata.json`.
 */
export class FuseDriver implements StorageDriver {
  readonly name = 'fuse';
  /** Usage is exact (the upper holds exactly the changes); changes read the upper; volatile skips fsync. */
  readonly capabilities: StorageCapabilities = { usage: 'exact', volatile: true, sizeQuota: false, nativeDiff: true };
  private readonly snapshotsDir: string;
  private readonly removal: BackgroundRemoval;
  private readonly helper: readonly string[];

  private constructor(
    private readonly root: string,
    private readonly metadata: FuseMetadata,
    options: FuseDriverOptions,
  ) {
    this.snapshotsDir = path.join(root, 'snapshots');
    this.removal = new BackgroundRemoval(options.log);
    this.helper = options.helper ?? helperCommand();
  }

  /** Load the driver's state from `root` (created if missing) and remove leftovers of a crash. */
  static async open(root: string, options: FuseDriverOptions = {}): Promise<FuseDriver> {
    const absolute = path.resolve(root);
    await fs.mkdir(path.join(absolute, 'snapshots'), { recursive: true, mode: 0o700 });
    const metadata = await SnapshotRecords.load<FuseSnapshotRecord>(path.join(absolute, 'metadata.json'), 'fuse');
    const driver = new FuseDriver(absolute, metadata, options);
    await driver.removeOrphans(options.log);
    return driver;
  }

  async prepare(key: string, parent?: string, options: PrepareOptions = {}): Promise<MountSpec[]> {
    const labels = checkSnapshotLabels(options.labels);
    checkSizeOption(this.name, false, options);
    return this.create('active', key, parent, labels, options.volatile === true);
  }

  async view(key: string, parent?: string, options: SnapshotOptions = {}): Promise<MountSpec[]> {
    return this.create('view', key, parent, checkSnapshotLabels(options.labels), false);
  }

  async mounts(key: string): Promise<MountSpec[]> {
    const record = this.record(key);
    if (record.kind === 'committed') {
      throw new InvalidArgument(`snapshot ${key} is committed: only active snapshots and views have mounts`);
    }
    return this.mountsOf(record, this.lowerIds(this.metadata.get.bind(this.metadata), record.parent));
  }

  /** The committed record carries the labels given here, not the active snapshot's (StorageDriver). */
  async commit(name: string, key: string, options: SnapshotOptions = {}): Promise<void> {
    const labels = checkSnapshotLabels(options.labels);
    await this.metadata.transact(async ({ records }) => {
      const record = records.get(key);
      if (!record) throw new NotFound(`no such snapshot: ${key}`);
      if (record.kind !== 'active')
        throw new InvalidArgument(`snapshot ${key} is a ${record.kind}: only an active snapshot can be committed`);
      if (records.has(name)) throw new Conflict(`snapshot ${name} already exists`);
      const { labels: _activeLabels, volatile: _volatile, ...kept } = record;
      records.delete(key);
      records.set(name, withLabels({ ...kept, kind: 'committed' }, labels));
    });
  }

  async remove(key: string): Promise<void> {
    const removed = await this.metadata.transact(async ({ records }) => {
      const record = records.get(key);
      if (!record) throw new NotFound(`no such snapshot: ${key}`);
      const children = [...records].filter(([, r]) => r.parent === key).map(([k]) => k);
      if (children.length > 0) {
        throw new Conflict(`cannot remove snapshot ${key}: it is the parent of ${children.join(', ')}`);
      }
      records.delete(key);
      return record;
    });
    this.removal.remove(this.dirOf(removed.id));
  }

  /** Waits for the background deletions of removed snapshots. */
  async close(): Promise<void> {
    await this.removal.drain();
  }

  async stat(key: string): Promise<SnapshotInfo> {
    return snapshotInfo(key, this.record(key));
  }

  async usage(key: string): Promise<SnapshotUsage> {
    return directoryUsage(path.join(this.dirOf(this.record(key).id), 'fs'));
  }

  /** The differ's fast path: the upper directory holds exactly what changed (upperChanges). */
  async changes(key: string): Promise<SnapshotChange[]> {
    const record = this.record(key);
    if (record.kind !== 'active') throw new InvalidArgument(`snapshot ${key} is a ${record.kind}: only an active snapshot has changes`);
    const lowers = this.lowerIds(this.metadata.get.bind(this.metadata), record.parent);
    const fsOf = (id: number) => path.join(this.dirOf(id), 'fs');
    return upperChanges(fsOf(record.id), lowers.map(fsOf));
  }

  async walk(): Promise<SnapshotInfo[]> {
    return this.metadata.entries().map(([key, record]) => snapshotInfo(key, record));
  }

  async status(): Promise<DriverStatus> {
    return [
      ['Backing Filesystem', await backingFilesystem(this.root)],
      ['Mount Helper', this.helper.join(' ')],
      ['FUSE Library', 'libfuse 2 through fuse-native 2.2.6 (patched)'],
      ['Native Overlay Diff', 'true'],
    ];
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
      return await this.metadata.transact(async (draft) => {
        if (draft.records.has(key)) throw new Conflict(`snapshot ${key} already exists`);
        const lowers = this.lowerIds((k) => draft.records.get(k), parent);
        const record: FuseSnapshotRecord = { id: draft.allocateId(), kind, created: new Date().toISOString() };
        if (parent !== undefined) record.parent = parent;
        if (volatile && kind === 'active' && lowers.length > 0) record.volatile = true;
        withLabels(record, labels);
        const mounts = this.mountsOf(record, lowers);
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
  private lowerIds(lookup: (key: string) => FuseSnapshotRecord | undefined, parent: string | undefined): number[] {
    const ids: number[] = [];
    for (let name = parent; name !== undefined; ) {
      const record = lookup(name);
      if (!record) throw new NotFound(`no such parent snapshot: ${name}`);
      if (record.kind !== 'committed') throw new InvalidArgument(`parent snapshot ${name} is ${record.kind}, not committed`);
      ids.push(record.id);
      name = record.parent;
    }
    return ids;
  }

  private mountsOf(record: FuseSnapshotRecord, lowers: number[]): MountSpec[] {
    const fsOf = (id: number) => path.join(this.dirOf(id), 'fs');
    const own = fsOf(record.id);
    if (record.kind === 'view' && lowers.length <= 1) {
      return [{ type: 'bind', source: lowers.length === 1 ? fsOf(lowers[0]!) : own, options: ['rbind', 'ro'] }];
    }
    if (lowers.length === 0) return [{ type: 'bind', source: own, options: ['rbind', 'rw'] }];
    const options = [`lowerdir=${lowers.map(fsOf).join(':')}`];
    if (record.kind === 'active') options.push(`upperdir=${own}`, `workdir=${path.join(this.dirOf(record.id), 'work')}`);
    if (record.kind === 'view') options.push('ro');
    if (record.volatile) options.push('volatile');
    return [{ type: FUSE_MOUNT_TYPE, source: 'berth-fuse', options, helper: [...this.helper] }];
  }

  private record(key: string): FuseSnapshotRecord {
    const record = this.metadata.get(key);
    if (!record) throw new NotFound(`no such snapshot: ${key}`);
    return record;
  }

  private dirOf(id: number): string {
    return path.join(this.snapshotsDir, String(id));
  }

  /** Directories left by a crash between making a directory and recording it (or the reverse on removal). */
  private async removeOrphans(log: Logger | undefined): Promise<void> {
    const known = this.metadata.ids();
    for (const name of await fs.readdir(this.snapshotsDir)) {
      if (known.has(Number(name)) && String(Number(name)) === name) continue;
      if (!BackgroundRemoval.isLeftover(name))
        log?.warn('removing an unrecorded fuse snapshot directory', { dir: path.join(this.snapshotsDir, name) });
      this.removal.deleteLater(path.join(this.snapshotsDir, name));
    }
    await this.removal.drain();
  }
}
