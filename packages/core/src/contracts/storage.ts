import type { MountSpec } from './mount.js';

/** The lifecycle state of a snapshot. */
export type SnapshotKind = 'active' | 'view' | 'committed';

/** What a driver knows about one snapshot. */
export interface SnapshotInfo {
  /** The key (active/view) or name (committed) the snapshot is known by. */
  key: string;
  /** The committed snapshot this one is layered on, if any. */
  parent?: string;
  kind: SnapshotKind;
  /** Creation time, ISO 8601. */
  created: string;
  /**
   * What the snapshot's maker said about it (SnapshotOptions.labels): always present,
   * `{}` when none were given, and for snapshots stored before drivers kept labels.
   * A copy: changing it changes nothing in the driver.
   */
  labels: Record<string, string>;
}

/** Disk usage of one snapshot, counting only what it adds over its parent. */
export interface SnapshotUsage {
  bytes: number;
  inodes: number;
}

/** How a path of an active snapshot differs from its parent, as `docker diff` shows it (C, A, D). */
export type SnapshotChangeKind = 'modified' | 'added' | 'deleted';

/** One path that an active snapshot adds, changes or deletes over its parent (StorageDriver.changes). */
export interface SnapshotChange {
  /** Absolute inside the snapshot: `/etc/passwd`. */
  path: string;
  kind: SnapshotChangeKind;
}

/** What a driver reports about itself for `docker info` (`DriverStatus`). */
export type DriverStatus = Array<[string, string]>;

/** What a new snapshot is created with: prepare, view and commit take it. */
export interface SnapshotOptions {
  /**
   * Key/value strings stored with the snapshot and returned by stat and walk (see
   * StorageDriver and SnapshotLabels). Checked by checkSnapshotLabels: an invalid one is
   * an InvalidArgument naming it, and nothing is created or changed.
   */
  labels?: Record<string, string>;
}

/** How a writable snapshot is used, for drivers that can make use of it. */
export interface PrepareOptions extends SnapshotOptions {
  /**
   * The snapshot need not survive a host crash: it belongs to a container removed when
   * it exits (`--rm`), and after a crash the engine removes it instead of running it
   * again. A driver may then skip making its writes durable (overlay mounts it with
   * `volatile`: no sync at unmount, fsync inside the container a no-op), as Podman
   * and CRI-O do for the same containers. Drivers that cannot ignore it.
   */
  volatile?: boolean;
}

/**
 * A storage driver keeps filesystem snapshots: the layers of images and the
 * writable layers of containers. The model is containerd's snapshotter:
 *
 * - A **committed** snapshot is immutable and has a name. Image layers are committed
 *   snapshots named by their chain ID, each one's parent the layer below it.
 * - An **active** snapshot is writable. `prepare(key, parent)` creates one on top of
 *   a committed parent (or empty), and returns the mounts that show it.
 * - A **view** is a read-only active snapshot: `view(key, parent)`.
 * - `commit(name, key)` turns an active snapshot into a committed one; the key is gone
 *   afterwards.
 * - `remove(key)` deletes an active, view, or committed snapshot that has no children.
 *   The key is gone when it resolves; the space may be freed a moment later (a driver
 *   may delete in the background, as containerd's snapshotters can), and `close()`
 *   waits for whatever deletion is still running.
 *
 * **Labels** (after containerd's `Info.Labels`) say who a snapshot belongs to, so that
 * recovery decides from them rather than from the shape of a key. They are given when
 * a snapshot comes into being — `prepare`, `view` and `commit` take `{ labels }` — and
 * never change afterwards. There is no `update`: a snapshot changes hands only when it
 * is committed, and commit takes labels. `commit` *replaces* the labels: the committed
 * snapshot has exactly those given to commit, and the active snapshot's go with its
 * key, as in containerd. The active snapshot says who is filling it (`image-extract`),
 * the committed one what it has become (`image`); inheriting would leave every image
 * layer claiming to be an extraction in progress. `stat` and `walk` return them (`{}`
 * for none). A driver stores them in the snapshot's own record, by the same
 * crash-safety rules as the rest of it: a snapshot is never visible without its labels
 * or with half of them, and a refused label creates and changes nothing.
 * SnapshotLabels (snapshot-labels.ts) names berth's own keys and owners;
 * checkSnapshotLabels is the validation every driver runs.
 *
 * Importing a layer: `prepare("extract-<n>", parentChainId, { labels: ownerLabels('image-extract', chainId) })`
 * → the engine mounts the returned mounts on a temporary directory, unpacks the layer
 * tar into it (applying whiteouts by deleting paths), unmounts →
 * `commit(chainId, "extract-<n>", { labels: ownerLabels('image', chainId) })`.
 *
 * Running a container: `prepare(containerId, imageTopChainId, { labels: ownerLabels('container', containerId) })`
 * → the engine mounts the result as the container's rootfs; `changes(containerId)` is
 * what `docker diff` shows and what `docker commit` puts in the new layer (read while
 * nothing writes: a paused or stopped container, or accepting a moving target as Docker
 * does); on removal it unmounts and calls `remove(containerId)`.
 *
 * Drivers never mount anything a caller will see and never keep reference counts:
 * they describe mounts and the engine performs them. All methods are safe to call
 * again after a crash: `remove` of an unknown key throws NotFound, nothing else.
 */
export interface StorageDriver {
  /** The driver's name as operators choose it: "overlay", "vfs", "btrfs", "fuse". */
  readonly name: string;
  /** Create a writable snapshot on top of `parent` (a committed name) or empty. Throws Conflict if `key` exists. */
  prepare(key: string, parent?: string, options?: PrepareOptions): Promise<MountSpec[]>;
  /** Create a read-only snapshot on top of `parent`. Throws Conflict if `key` exists. */
  view(key: string, parent?: string, options?: SnapshotOptions): Promise<MountSpec[]>;
  /** The mounts of an existing active snapshot or view. Throws NotFound for an unknown key. */
  mounts(key: string): Promise<MountSpec[]>;
  /**
   * Make the active snapshot `key` an immutable snapshot called `name`, labelled with
   * `options.labels` only (the active snapshot's labels are not carried over).
   */
  commit(name: string, key: string, options?: SnapshotOptions): Promise<void>;
  /** Delete a snapshot. Throws Conflict if it has children, NotFound if unknown. */
  remove(key: string): Promise<void>;
  /** What the driver knows of one snapshot. Throws NotFound for an unknown key. */
  stat(key: string): Promise<SnapshotInfo>;
  /** Bytes and inodes the snapshot adds over its parent. */
  usage(key: string): Promise<SnapshotUsage>;
  /**
   * The paths the active snapshot `key` adds, changes or deletes over its parent (all
   * added without a parent), sorted by path, with Docker's rules: every entry of an
   * added directory is added too; a deleted directory is one deletion (its entries are
   * not listed); a directory is modified when its own metadata changed or when anything
   * below it was added, changed or deleted; the root is never listed. A file is modified
   * when its type, mode, owner, size, device, link target or mtime differ, or its content
   * was rewritten. InvalidArgument for a committed snapshot or a view, NotFound for an
   * unknown key.
   */
  changes(key: string): Promise<SnapshotChange[]>;
  /** Every snapshot the driver holds, in no particular order. */
  walk(): Promise<SnapshotInfo[]>;
  /** Key/value pairs for `docker info`'s DriverStatus. */
  status(): Promise<DriverStatus>;
  /** Finish background deletions and release whatever the driver holds open (drivers leave nothing mounted). */
  close?(): Promise<void>;
}
