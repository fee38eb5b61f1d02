import { promises as fs, rmSync } from 'node:fs';
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
  NotImplemented,
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
import { dTypeSupport } from './backing-filesystem.js';
import { directoryUsage } from './directory-usage.js';
import { overlayChanges } from './overlay-changes.js';
import type { OverlayMetadata, OverlaySnapshotRecord } from './overlay-metadata.js';

/**
 * mount(2) copies at most one page of option data, NUL included; a longer string is
 * cut, and a cut path could name the wrong directory. Measured on Linux 6.18: 4095
 * characters mount, 4096 fail with EINVAL.
 */
export const MAX_MOUNT_DATA = 4095;

/** Options of OverlayDriver beyond its root. */
export interface OverlayDriverOptions {
  /** Added to every overlay mount (init passes `index=off` etc. when the module enables them by default). */
  extraOptions?: string[];
  /** The kernel's overlay takes `volatile` (Linux 5.10+): volatile snapshots use it. */
  volatile?: boolean;
  log?: Logger;
}

/**
 * The `overlay` storage driver: kernel overlayfs. Each snapshot is a directory
 * `<root>/snapshots/<id>` holding `fs` (its own files: the whole tree of a snapshot
 * without parent, the upper layer of one with parents) and, for active snapshots with
 * parents, `work` (overlay's workdir). `<root>/metadata.json` maps keys and names to
 * ids, parents, kinds and labels (OverlayMetadata).
 *
 * Mounts it describes (never performs):
 * - active, no parent: a read-write bind of its `fs`;
 * - active with parents: overlay, `lowerdir` = the parents' `fs`, nearest first, with
 *   its own `fs` as upperdir;
 * - view: a read-only bind of the only parent's `fs` (or of its own empty `fs`), or a
 *   lowerdir-only (hence read-only) overlay for two parents or more.
 *
 * Ids are small integers so lowerdir paths stay short: the whole option string must
 * fit in one page (MAX_MOUNT_DATA). Under `/var/lib/berth/storage/overlay` a container
 * mounts on up to 84 layers (measured; a few fewer once ids grow to 5 digits); deeper
 * chains are refused with NotImplemented rather than mounted wrong.
 *
 * Crash safety: a snapshot's directory is made before its record is written, and its
 * record removed before its directory, which is renamed to `.removing-*` and deleted in
 * the background (`close` waits for that); `open` deletes directories without a record.
 * Labels are part of the record, so they appear and change with it in one atomic
 * rewrite of `metadata.json`: a snapshot is never recorded without its labels.
 */
export class OverlayDriver implements StorageDriver {
  readonly name = 'overlay';
  /** Usage is exact (the upper holds exactly the changes); changes read the upper (the differ's fast path). */
  readonly capabilities: StorageCapabilities;
  private readonly snapshotsDir: string;
  private readonly extraOptions: string[];
  private readonly volatileSupported: boolean;
  private readonly removal: BackgroundRemoval;

  private constructor(
    private readonly root: string,
    private readonly metadata: OverlayMetadata,
    options: OverlayDriverOptions,
  ) {
    this.snapshotsDir = path.join(root, 'snapshots');
    this.extraOptions = options.extraOptions ?? [];
    this.volatileSupported = options.volatile === true;
    this.removal = new BackgroundRemoval(options.log);
    this.capabilities = { usage: 'exact', volatile: this.volatileSupported, sizeQuota: false, nativeDiff: true };
  }

  /** Load the driver's state from `root` (created if missing) and remove leftovers of a crash. */
  static async open(root: string, options: OverlayDriverOptions = {}): Promise<OverlayDriver> {
    const absolute = path.resolve(root);
    await fs.mkdir(path.join(absolute, 'snapshots'), { recursive: true, mode: 0o700 });
    const metadata = await SnapshotRecords.load<OverlaySnapshotRecord>(path.join(absolute, 'metadata.json'), 'overlay');
    const driver = new OverlayDriver(absolute, metadata, options);
    await driver.removeOrphans(options.log);
    return driver;
  }

  /**
   * A volatile snapshot (PrepareOptions) with parents is an overlay mounted `volatile`
   * where the kernel supports it; without parents it is a bind, which has nothing to skip.
   */
  async prepare(key: string, parent?: string, options: PrepareOptions = {}): Promise<MountSpec[]> {
    const labels = checkSnapshotLabels(options.labels);
    // overlay has no quota of its own (Docker's needs xfs project quotas): refused, never ignored.
    checkSizeOption(this.name, false, options);
    return this.create('active', key, parent, labels, options.volatile === true && this.volatileSupported);
  }

  async view(key: string, parent?: string, options: SnapshotOptions = {}): Promise<MountSpec[]> {
    return this.create('view', key, parent, checkSnapshotLabels(options.labels), false);
  }

  async mounts(key: string): Promise<MountSpec[]> {
    const record = this.record(key);
    if (record.kind === 'committed') {
      throw new InvalidArgument(`snapshot ${key} is committed: only active snapshots and views have mounts`);
    }
    const lowers = this.lowerIds(this.metadata.get.bind(this.metadata), record.parent);
    // A volatile mount leaves work/work/incompat/volatile behind, and overlay refuses to
    // mount that upper again until it is gone: what it guards against (writes lost in a
    // crash) is what a volatile snapshot accepts, so the marker goes.
    if (record.volatile) rmSync(path.join(this.dirOf(record.id), 'work', 'work', 'incompat', 'volatile'), { recursive: true, force: true });
    return this.mountsOf(record, lowers);
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
      const { labels: _activeLabels, ...kept } = record;
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
    // Renamed away now, deleted in the background: a container's upper layer can be large.
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

  /**
   * The differ's fast path: read from the upper directory, where overlayfs keeps exactly
   * what changed (overlayChanges), instead of comparing the whole tree with its parent.
   */
  async changes(key: string): Promise<SnapshotChange[]> {
    const record = this.record(key);
    if (record.kind !== 'active') throw new InvalidArgument(`snapshot ${key} is a ${record.kind}: only an active snapshot has changes`);
    const lowers = this.lowerIds(this.metadata.get.bind(this.metadata), record.parent);
    const fsOf = (id: number) => path.join(this.dirOf(id), 'fs');
    return overlayChanges(fsOf(record.id), lowers.map(fsOf));
  }

  async walk(): Promise<SnapshotInfo[]> {
    return this.metadata.entries().map(([key, record]) => snapshotInfo(key, record));
  }

  async status(): Promise<DriverStatus> {
    const filesystem = await backingFilesystem(this.root);
    return [
      ['Backing Filesystem', filesystem],
      ['Supports d_type', dTypeSupport(filesystem)],
      // index, redirect_dir and metacopy are pinned off when the module enables them (OverlaySupport).
      ['Using metacopy', 'false'],
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
        const record: OverlaySnapshotRecord = { id: draft.allocateId(), kind, created: new Date().toISOString() };
        if (parent !== undefined) record.parent = parent;
        if (volatile && kind === 'active' && lowers.length > 0) record.volatile = true;
        withLabels(record, labels);
        // Describe first: a chain too deep to mount is refused before anything is made.
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
  private lowerIds(lookup: (key: string) => OverlaySnapshotRecord | undefined, parent: string | undefined): number[] {
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

  private mountsOf(record: OverlaySnapshotRecord, lowers: number[]): MountSpec[] {
    const fsOf = (id: number) => path.join(this.dirOf(id), 'fs');
    const own = fsOf(record.id);
    if (record.kind === 'view' && lowers.length <= 1) {
      return [{ type: 'bind', source: lowers.length === 1 ? fsOf(lowers[0]!) : own, options: ['rbind', 'ro'] }];
    }
    if (lowers.length === 0) return [{ type: 'bind', source: own, options: ['rbind', 'rw'] }];
    const options = [`lowerdir=${lowers.map(fsOf).join(':')}`];
    if (record.kind === 'active') options.push(`upperdir=${own}`, `workdir=${path.join(this.dirOf(record.id), 'work')}`);
    options.push(...this.extraOptions);
    const data = options.join(',');
    if (data.length > MAX_MOUNT_DATA) {
      throw new NotImplemented(
        `overlay cannot mount a chain of ${lowers.length} layers under ${this.root}: its mount options take ` +
          `${data.length} bytes and the kernel accepts ${MAX_MOUNT_DATA} (a shorter data root allows deeper chains)`,
      );
    }
    if (record.kind === 'view') options.push('ro');
    if (record.volatile) options.push('volatile');
    return [{ type: 'overlay', source: 'overlay', options }];
  }

  private record(key: string): OverlaySnapshotRecord {
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
        log?.warn('removing an unrecorded overlay snapshot directory', { dir: path.join(this.snapshotsDir, name) });
      // Through the removal's guard: never a recursive delete into something mounted.
      this.removal.deleteLater(path.join(this.snapshotsDir, name));
    }
    await this.removal.drain();
  }
}
