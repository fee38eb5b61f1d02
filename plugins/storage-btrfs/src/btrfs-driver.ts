import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  Conflict,
  changedUsage,
  checkSizeOption,
  checkSnapshotLabels,
  committedParent,
  type DriverStatus,
  InvalidArgument,
  type Logger,
  type MountSpec,
  type PrepareOptions,
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
import { btrfs } from './btrfs-command.js';
import type { BtrfsMetadata, BtrfsSnapshotRecord } from './btrfs-metadata.js';

/** Options of BtrfsDriver beyond its root. */
export interface BtrfsDriverOptions {
  /** Quotas are on for the filesystem (init enabled them): `sizeBytes` can be enforced. */
  quota?: boolean;
  log?: Logger;
}

/**
 * The `btrfs` storage driver: every snapshot is a btrfs subvolume `<root>/snapshots/<id>`.
 * A snapshot without parent is a new empty subvolume; one with a parent is a btrfs
 * snapshot of the parent's subvolume (copy-on-write, made in one ioctl whatever the
 * size of the tree): writable for an active snapshot, read-only for a view. A commit
 * makes the subvolume read-only: a layer cannot change under its children. Keys, parents,
 * kinds, labels and limits are in `<root>/metadata.json` (BtrfsMetadata).
 *
 * Mounts it describes (never performs): a bind of the snapshot's subvolume, `rw` for an
 * active snapshot, `ro` for a view.
 *
 * Size limits (PrepareOptions.sizeBytes, `--storage-opt size=`): a qgroup limit on the
 * container's subvolume, counting what it references (its image's data included, as
 * Docker's btrfs driver counts it); writes past it fail with EDQUOT.
 *
 * Usage is exact, by the contract's rule (core's changedUsage against the parent's
 * subvolume), not qgroups: a qgroup counts extents, so a rewritten byte range, a
 * reflink or a compressed file give figures the contract's rule does not.
 *
 * Subvolumes are never leaked (moby#9939): remove deletes every subvolume a container
 * made inside its snapshot, deepest first, before the snapshot's own; a subvolume is
 * made while its record is written and its record dropped before it is deleted, so a
 * kill -9 anywhere leaves at worst a subvolume without a record, which open() deletes
 * (nested ones first) along with anything else in `snapshots/` it does not know, or the
 * record of an active snapshot or view whose subvolume was never made, which open()
 * drops. A commit cut short after its record was written leaves `sealing` on the record;
 * open() finishes it by making the subvolume read-only.
 */
export class BtrfsDriver implements StorageDriver {
  readonly name = 'btrfs';
  readonly capabilities: StorageCapabilities;
  private readonly snapshotsDir: string;

  private constructor(
    root: string,
    private readonly metadata: BtrfsMetadata,
    options: BtrfsDriverOptions,
  ) {
    this.snapshotsDir = path.join(root, 'snapshots');
    this.capabilities = { usage: 'exact', volatile: false, sizeQuota: options.quota === true, nativeDiff: false };
  }

  /** Load the state under `root` (a directory on btrfs, created if missing) and clear what a crash left. */
  static async open(root: string, options: BtrfsDriverOptions = {}): Promise<BtrfsDriver> {
    const absolute = path.resolve(root);
    await fs.mkdir(path.join(absolute, 'snapshots'), { recursive: true, mode: 0o700 });
    const metadata = await SnapshotRecords.load<BtrfsSnapshotRecord>(path.join(absolute, 'metadata.json'), 'btrfs');
    const driver = new BtrfsDriver(absolute, metadata, options);
    await driver.recover(options.log);
    return driver;
  }

  /** `volatile` is accepted and ignored: a subvolume has no cheaper, non-durable mode. */
  async prepare(key: string, parent?: string, options: PrepareOptions = {}): Promise<MountSpec[]> {
    const labels = checkSnapshotLabels(options.labels);
    const size = checkSizeOption(this.name, this.capabilities.sizeQuota, options);
    return this.create('active', key, parent, labels, size);
  }

  async view(key: string, parent?: string, options: SnapshotOptions = {}): Promise<MountSpec[]> {
    return this.create('view', key, parent, checkSnapshotLabels(options.labels), undefined);
  }

  async mounts(key: string): Promise<MountSpec[]> {
    const record = this.metadata.existing(key);
    if (record.kind === 'committed') throw new InvalidArgument(`snapshot ${key} is committed: only active snapshots and views have mounts`);
    return this.mountsOf(record);
  }

  /** The record first (with `sealing`), then the subvolume read-only, then the mark cleared. */
  async commit(name: string, key: string, options: SnapshotOptions = {}): Promise<void> {
    const active = await this.metadata.commit(name, key, checkSnapshotLabels(options.labels), ({ sizeBytes: _limit, ...kept }) => ({
      ...kept,
      sealing: true,
    }));
    await this.seal(name, active.id);
  }

  async remove(key: string): Promise<void> {
    const removed = await this.metadata.remove(key);
    await deleteSubvolume(this.dirOf(removed.id));
  }

  async stat(key: string): Promise<SnapshotInfo> {
    return snapshotInfo(key, this.metadata.existing(key));
  }

  async usage(key: string): Promise<SnapshotUsage> {
    const record = this.metadata.existing(key);
    if (record.kind === 'view') return { bytes: 0, inodes: 0 };
    const parent = record.parent === undefined ? undefined : this.dirOf(this.metadata.existing(record.parent).id);
    return changedUsage(this.dirOf(record.id), parent);
  }

  async walk(): Promise<SnapshotInfo[]> {
    return this.metadata.entries().map(([key, record]) => snapshotInfo(key, record));
  }

  async status(): Promise<DriverStatus> {
    return [
      ['Backing Filesystem', 'btrfs'],
      ['Quotas', this.capabilities.sizeQuota ? 'enabled (--storage-opt size=)' : 'disabled'],
      ['Usage', 'exact (tree comparison, not qgroups)'],
    ];
  }

  private async create(
    kind: SnapshotKind,
    key: string,
    parent: string | undefined,
    labels: Record<string, string>,
    sizeBytes: number | undefined,
  ): Promise<MountSpec[]> {
    let made: string | undefined;
    let source: string | undefined;
    try {
      return await this.metadata.transact(
        async (draft) => {
          if (draft.records.has(key)) throw new Conflict(`snapshot ${key} already exists`);
          if (parent !== undefined) source = this.dirOf(committedParent(draft.records, parent).id);
          const record: BtrfsSnapshotRecord = { id: draft.allocateId(), kind, created: new Date().toISOString() };
          if (parent !== undefined) record.parent = parent;
          if (sizeBytes !== undefined) record.sizeBytes = sizeBytes;
          withLabels(record, labels);
          made = this.dirOf(record.id);
          draft.records.set(key, record);
          return this.mountsOf(record);
        },
        // The subvolume is made while the record is written: each commits a btrfs
        // transaction, and neither needs the other. A crash leaves one without the other,
        // and open() removes either kind of half (an unrecorded subvolume, a record
        // without its subvolume).
        async () => {
          const dir = made!;
          if (source) await btrfs.snapshot(source, dir, kind === 'view');
          else {
            await btrfs.create(dir);
            if (kind === 'view') await btrfs.setReadOnly(dir, true);
          }
          if (sizeBytes !== undefined) await btrfs.limit(dir, sizeBytes);
        },
      );
    } catch (err) {
      if (made) await deleteSubvolume(made).catch(() => undefined);
      throw err;
    }
  }

  private mountsOf(record: BtrfsSnapshotRecord): MountSpec[] {
    return [{ type: 'bind', source: this.dirOf(record.id), options: ['rbind', record.kind === 'view' ? 'ro' : 'rw'] }];
  }

  /** Make a committed snapshot's subvolume read-only and clear its `sealing` mark. */
  private async seal(name: string, id: number): Promise<void> {
    await btrfs.setReadOnly(this.dirOf(id), true);
    await this.metadata.transact(async ({ records }) => {
      const record = records.get(name);
      if (record?.id === id) {
        const { sealing: _done, ...sealed } = record;
        records.set(name, sealed);
      }
    });
  }

  private dirOf(id: number): string {
    return path.join(this.snapshotsDir, String(id));
  }

  /**
   * After a crash: drop the records of snapshots whose subvolume was never made (a prepare
   * or view cut short), finish interrupted commits, delete every subvolume (and
   * directory) no record names.
   */
  private async recover(log: Logger | undefined): Promise<void> {
    const present = new Set(await fs.readdir(this.snapshotsDir));
    const unmade = this.metadata.entries().filter(([, r]) => r.kind !== 'committed' && !present.has(String(r.id)));
    if (unmade.length > 0) {
      log?.warn('dropping the records of btrfs snapshots never made (a crash in the middle of prepare)', {
        keys: unmade.map(([k]) => k).join(','),
      });
      await this.metadata.transact(async ({ records }) => {
        for (const [key] of unmade) records.delete(key);
      });
    }
    const known = new Set<string>();
    for (const [key, record] of this.metadata.entries()) {
      if (record.kind === 'committed' && !present.has(String(record.id))) {
        log?.error('a committed btrfs snapshot has lost its subvolume', { key, id: record.id });
      }
      known.add(String(record.id));
      if (record.sealing) {
        log?.warn('finishing an interrupted btrfs commit', { key });
        await this.seal(key, record.id);
      }
    }
    for (const name of await fs.readdir(this.snapshotsDir)) {
      if (known.has(name)) continue;
      const dir = path.join(this.snapshotsDir, name);
      log?.warn('removing an unrecorded btrfs subvolume (a crash in the middle of prepare or remove)', { dir });
      await deleteSubvolume(dir);
    }
  }
}

/**
 * Delete the subvolume at `dir` with every subvolume inside it, children before their
 * parent, recursively (a subvolume holding another cannot be deleted; Docker's driver
 * leaked them). A plain
 * directory (never a subvolume: what a crash or someone else left) is removed as one.
 */
export async function deleteSubvolume(dir: string): Promise<void> {
  const st = await fs.lstat(dir).catch(() => undefined);
  if (!st) return;
  // A subvolume's root directory is always inode 256 (BTRFS_FIRST_FREE_OBJECTID).
  if (!st.isDirectory() || st.ino !== 256) {
    await fs.rm(dir, { recursive: true, force: true });
    return;
  }
  try {
    // Most snapshots hold no subvolume: one call. Finding nested ones costs two more.
    await btrfs.delete(dir);
    return;
  } catch (err) {
    const nested = await btrfs.nested(dir);
    if (nested.length === 0) throw err;
    // Unlinking a subvolume needs a writable parent: a read-only one (a layer, a container's own `snapshot -r`) is made writable first.
    if (await btrfs.isReadOnly(dir)) await btrfs.setReadOnly(dir, false);
    for (const child of nested) await deleteSubvolume(child);
  }
  await btrfs.delete(dir);
}
