import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  Conflict,
  changedUsage,
  checkSizeOption,
  checkSnapshotLabels,
  type DriverStatus,
  InvalidArgument,
  type Logger,
  type MountSpec,
  NotFound,
  type PrepareOptions,
  type SnapshotInfo,
  type SnapshotKind,
  type SnapshotOptions,
  type SnapshotUsage,
  type StorageCapabilities,
  type StorageDriver,
} from '@berth/core';
import { copyTree } from './copy-tree.js';
import { type VfsSnapshot, type VfsSnapshotRecord, VfsSnapshotStore } from './vfs-snapshot-store.js';

/**
 * The `vfs` storage driver: every active snapshot is a full copy of its parent
 * (`cp -a --reflink=auto`), so it works on any filesystem, needs no kernel feature
 * but bind mounts, and costs a copy of the image per container (nearly nothing on
 * btrfs/xfs with reflinks). Snapshots live in `<root>/snapshots/<id>/fs` with their
 * record (key, parent, kind, creation time, labels) beside them (VfsSnapshotStore).
 *
 * Mounts it describes (never performs): a read-write bind of an active snapshot's
 * `fs`; for a view, a read-only bind of its parent's `fs` — the parent is committed,
 * so immutable, and a view needs no copy — or of an empty directory without parent.
 *
 * Copies run concurrently: instead of one lock, each operation checks the lifecycle
 * rules and reserves the names it will create (or marks the snapshot it changes as
 * busy) synchronously, before its first await, so no other call can slip in between.
 */
export class VfsDriver implements StorageDriver {
  readonly name = 'vfs';
  /**
   * Usage exact (a comparison of copies, core's changedUsage); no changes of its own: the
   * differ's generic path (a mounted view of the parent compared with the snapshot) is
   * what a native one would do here anyway.
   */
  readonly capabilities: StorageCapabilities = { usage: 'exact', volatile: false, sizeQuota: false, nativeDiff: false };
  /** Keys and names being created, with the parent each will have. */
  private readonly reserved = new Map<string, string | undefined>();
  /** Snapshots being committed or removed. */
  private readonly busy = new Set<string>();

  private constructor(private readonly store: VfsSnapshotStore) {}

  /** Load the snapshots under `root` (created if missing), deleting leftovers of a crash. */
  static async open(root: string, options: { log?: Logger } = {}): Promise<VfsDriver> {
    return new VfsDriver(await VfsSnapshotStore.load(path.join(path.resolve(root), 'snapshots'), options.log));
  }

  /** `volatile` changes nothing here: a full copy has no cheaper mount to offer. */
  async prepare(key: string, parent?: string, options: PrepareOptions = {}): Promise<MountSpec[]> {
    const labels = checkSnapshotLabels(options.labels);
    checkSizeOption(this.name, false, options);
    return this.create('active', key, parent, labels);
  }

  async view(key: string, parent?: string, options: SnapshotOptions = {}): Promise<MountSpec[]> {
    return this.create('view', key, parent, checkSnapshotLabels(options.labels));
  }

  async mounts(key: string): Promise<MountSpec[]> {
    const snapshot = this.snapshot(key);
    if (snapshot.record.kind === 'committed') {
      throw new InvalidArgument(`snapshot ${key} is committed: only active snapshots and views have mounts`);
    }
    return this.mountsOf(snapshot);
  }

  /** The committed record carries the labels given here, not the active snapshot's (StorageDriver). */
  async commit(name: string, key: string, options: SnapshotOptions = {}): Promise<void> {
    const labels = checkSnapshotLabels(options.labels);
    const snapshot = this.snapshot(key);
    this.assertIdle(key);
    if (snapshot.record.kind !== 'active') {
      throw new InvalidArgument(`snapshot ${key} is a ${snapshot.record.kind}: only an active snapshot can be committed`);
    }
    this.assertFree(name);
    this.reserved.set(name, snapshot.record.parent);
    this.busy.add(key);
    try {
      const { labels: _activeLabels, ...kept } = snapshot.record;
      await this.store.rewrite(key, withLabels({ ...kept, key: name, kind: 'committed' }, labels));
    } finally {
      this.reserved.delete(name);
      this.busy.delete(key);
    }
  }

  async remove(key: string): Promise<void> {
    this.snapshot(key);
    this.assertIdle(key);
    const children = [
      ...this.store
        .all()
        .filter((s) => s.record.parent === key)
        .map((s) => s.record.key),
      ...[...this.reserved].filter(([, parent]) => parent === key).map(([k]) => k),
    ];
    if (children.length > 0) throw new Conflict(`cannot remove snapshot ${key}: it is the parent of ${children.join(', ')}`);
    this.busy.add(key);
    try {
      await this.store.discard(key);
    } finally {
      this.busy.delete(key);
    }
  }
  /** Waits for the background deletions of removed snapshots. */
  async close(): Promise<void> {
    await this.store.drain();
  }

  async stat(key: string): Promise<SnapshotInfo> {
    return info(this.snapshot(key).record);
  }

  async usage(key: string): Promise<SnapshotUsage> {
    const snapshot = this.snapshot(key);
    if (snapshot.record.kind === 'view') return { bytes: 0, inodes: 0 };
    const parent = snapshot.record.parent === undefined ? undefined : this.snapshot(snapshot.record.parent);
    return changedUsage(this.fsOf(snapshot), parent && this.fsOf(parent));
  }

  async walk(): Promise<SnapshotInfo[]> {
    return this.store.all().map((s) => info(s.record));
  }

  async status(): Promise<DriverStatus> {
    return [];
  }

  private async create(
    kind: SnapshotKind,
    key: string,
    parentKey: string | undefined,
    labels: Record<string, string>,
  ): Promise<MountSpec[]> {
    this.assertFree(key);
    const parent = parentKey === undefined ? undefined : this.committedParent(parentKey);
    this.reserved.set(key, parentKey);
    try {
      const staged = await this.store.stage();
      try {
        const target = path.join(staged.dir, 'fs');
        if (kind === 'active' && parent) await copyTree(this.fsOf(parent), target);
        else if (!parent) await fs.mkdir(target, { mode: 0o755 });
        const record: VfsSnapshotRecord = { key, kind, created: new Date().toISOString() };
        if (parentKey !== undefined) record.parent = parentKey;
        withLabels(record, labels);
        return this.mountsOf(await this.store.publish(staged, record));
      } catch (err) {
        await fs.rm(staged.dir, { recursive: true, force: true });
        throw err;
      }
    } finally {
      this.reserved.delete(key);
    }
  }

  private mountsOf(snapshot: VfsSnapshot): MountSpec[] {
    const { kind, parent } = snapshot.record;
    if (kind === 'view') {
      const source = parent === undefined ? this.fsOf(snapshot) : this.fsOf(this.snapshot(parent));
      return [{ type: 'bind', source, options: ['rbind', 'ro'] }];
    }
    return [{ type: 'bind', source: this.fsOf(snapshot), options: ['rbind', 'rw'] }];
  }

  private committedParent(key: string): VfsSnapshot {
    const parent = this.store.get(key);
    if (!parent) throw new NotFound(`no such parent snapshot: ${key}`);
    if (parent.record.kind !== 'committed') throw new InvalidArgument(`parent snapshot ${key} is ${parent.record.kind}, not committed`);
    if (this.busy.has(key)) throw new Conflict(`parent snapshot ${key} is being removed`);
    return parent;
  }

  private assertFree(key: string): void {
    if (this.store.get(key) || this.reserved.has(key)) throw new Conflict(`snapshot ${key} already exists`);
  }

  private assertIdle(key: string): void {
    if (this.busy.has(key)) throw new Conflict(`snapshot ${key} is being committed or removed`);
  }

  private snapshot(key: string): VfsSnapshot {
    const snapshot = this.store.get(key);
    if (!snapshot) throw new NotFound(`no such snapshot: ${key}`);
    return snapshot;
  }

  private fsOf(snapshot: VfsSnapshot): string {
    return path.join(this.store.pathOf(snapshot.id), 'fs');
  }
}

function info(record: VfsSnapshotRecord): SnapshotInfo {
  // A copy of the labels: the caller's changes must not reach the record.
  const result: SnapshotInfo = { key: record.key, kind: record.kind, created: record.created, labels: { ...record.labels } };
  if (record.parent !== undefined) result.parent = record.parent;
  return result;
}

/**
 * `record` with `labels`, stored only when there are some: a snapshot without labels is
 * recorded exactly as before labels existed (and as older berths read it).
 */
function withLabels(record: VfsSnapshotRecord, labels: Record<string, string>): VfsSnapshotRecord {
  if (Object.keys(labels).length > 0) record.labels = labels;
  return record;
}
