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
  /**
   * On a modified directory only: every entry the parent held in it is deleted (and it
   * held at least one), so a layer tar says so with one `.wh..wh..opq` instead of a
   * whiteout per entry. The deletions are still listed (what `docker diff` shows). The
   * rule depends on the trees alone, never on how a driver stores them (overlay's
   * opaque xattr), so every driver gives the same changes, hence the same layer tar.
   */
  opaque?: true;
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
   * and CRI-O do for the same containers. A driver that cannot (capabilities.volatile
   * false) ignores it: the snapshot is merely more durable than asked.
   */
  volatile?: boolean;
  /**
   * The most bytes the snapshot may hold, its parent's included (`--storage-opt
   * size=`, as Docker's btrfs driver counts it); writes past it fail inside the
   * container (EDQUOT or ENOSPC). Only with capabilities.sizeQuota: any other driver
   * throws InvalidArgument naming itself and creates nothing, never a silent
   * unlimited snapshot. A positive integer.
   */
  sizeBytes?: number;
}

/**
 * What a driver can do beyond the contract's minimum, declared once and never changing
 * while it runs: the engine and the conformance suite decide from these, never from the
 * driver's name.
 */
export interface StorageCapabilities {
  /**
   * `exact`: usage() counts by the contract's rule (each added or changed entry an
   * inode, each such non-directory its apparent size, hard links once), and the
   * conformance suite checks the figures. `approximate`: the figures come from the
   * filesystem's own accounting (blocks, extents, qgroups) and only their order of
   * magnitude is promised.
   */
  usage: 'exact' | 'approximate';
  /** PrepareOptions.volatile makes writes cheaper (else it is accepted and ignored). */
  volatile: boolean;
  /** PrepareOptions.sizeBytes is enforced (else refused with InvalidArgument). */
  sizeQuota: boolean;
  /**
   * The driver has `changes` of its own, cheaper than comparing trees (overlay reads its
   * upper directory). Without it the engine's differ (core's snapshotChanges) mounts a
   * view of the parent and compares the two trees, which gives the same answer.
   */
  nativeDiff: boolean;
}

/**
 * A storage driver keeps filesystem snapshots: the layers of images and the writable
 * layers of containers. The model is containerd's snapshotter.
 *
 * **Lifecycle of a snapshot**
 *
 * - `prepare(key, parent?)` makes an **active** snapshot: writable, on top of a
 *   committed parent (or empty), and returns the mounts that show it. `mounts(key)`
 *   describes them again at any later time (after a restart too).
 * - `view(key, parent?)` makes a **view**: a read-only active snapshot of the parent
 *   (or an empty tree). It can be removed but never committed.
 * - `commit(name, key)` turns the active snapshot `key` into a **committed** one called
 *   `name`: immutable, with no mounts of its own, usable as a parent. The key is gone
 *   afterwards. Committing a view or a committed snapshot is refused.
 * - `remove(key)` deletes an active, view or committed snapshot that has no children,
 *   and (btrfs) any subvolume a container made inside it. The key is gone when it
 *   resolves; the space may be freed a moment later (a driver may delete in the
 *   background), and `close()` waits for whatever deletion is still running.
 * - `stat`, `walk`, `usage` and `changes` read; `status` is for `docker info`.
 *
 * Image layers are committed snapshots named by their chain ID, each one's parent the
 * layer below it. Importing a layer: `prepare("extract-<n>", parentChainId, { labels:
 * ownerLabels('image-extract', chainId) })` → the engine mounts the returned mounts on a
 * temporary directory, unpacks the layer tar into it (applying whiteouts by deleting
 * paths), unmounts → `commit(chainId, "extract-<n>", { labels: ownerLabels('image',
 * chainId) })`.
 *
 * Running a container: `prepare(containerId, imageTopChainId, { labels:
 * ownerLabels('container', containerId), volatile, sizeBytes })` → the engine mounts the
 * result as the container's rootfs; the differ (core's snapshotChanges: `changes` when
 * the driver has it, else a tree comparison against a view of the parent) gives what
 * `docker diff` shows and what `docker commit`, `docker diff` and a push put in a layer
 * tar (read while nothing writes: a paused or stopped container, or accepting a moving
 * target as Docker does); on removal it unmounts and calls `remove(containerId)`.
 *
 * **Labels** (after containerd's `Info.Labels`) say who a snapshot belongs to, so that
 * recovery decides from them rather than from the shape of a key. They are given when
 * a snapshot comes into being and never change afterwards. There is no `update`: a
 * snapshot changes hands only when it is committed, and `commit` *replaces* the labels:
 * the committed snapshot has exactly those given to commit (the active snapshot says who
 * is filling it, `image-extract`; the committed one what it has become, `image`).
 * `stat` and `walk` return them (`{}` for none), as a copy. A driver stores them in the
 * snapshot's own record: a snapshot is never visible without its labels or with half of
 * them. SnapshotLabels names berth's own keys; checkSnapshotLabels is the validation
 * every driver runs before it creates or changes anything.
 *
 * **Errors** (core's classes; the conformance suite checks each):
 * - NotFound: an unknown key for `mounts`, `commit`, `remove`, `stat`, `usage`,
 *   `changes`; an unknown parent for `prepare` and `view`.
 * - Conflict: `prepare`/`view` of a key that exists, `commit` to a name that exists,
 *   `remove` of a snapshot that has children (the message names them).
 * - InvalidArgument: a parent that is not committed; `commit` of a view or of a
 *   committed snapshot; `mounts` of a committed snapshot; `changes` of a view or a
 *   committed snapshot; labels checkSnapshotLabels refuses (naming the label);
 *   `sizeBytes` on a driver without capabilities.sizeQuota, or not a positive integer.
 * - NotImplemented: a chain the driver cannot mount (overlay past one page of mount
 *   options), refused before anything is made.
 * A refused call creates and changes nothing.
 *
 * **Crash safety**: after a kill -9 in the middle of any call, opening the driver again
 * on the same root finds a state in which every snapshot is whole (with its labels) or
 * absent, and removes what a half-made or half-removed snapshot left on disk (orphan
 * directories, subvolumes). All methods are safe to call again after a crash: `remove`
 * of an unknown key throws NotFound, nothing else.
 *
 * Drivers never mount anything a caller will see and never keep reference counts:
 * they describe mounts and the engine performs them. A mount that is not one mount(2)
 * call (a FUSE filesystem) is described with a `helper` (MountSpec.helper): the program
 * that performs and serves it, which the engine starts and supervises (a process per
 * mount, never the driver's and never on berthd's event loop); every other field of the
 * spec is what the helper is given.
 */
export interface StorageDriver {
  /** The driver's name as operators choose it: "overlay", "vfs", "btrfs", "fuse". */
  readonly name: string;
  /** What the driver can do beyond the minimum (StorageCapabilities). */
  readonly capabilities: StorageCapabilities;
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
  /** Bytes and inodes the snapshot adds over its parent, exact or approximate as capabilities.usage says. */
  usage(key: string): Promise<SnapshotUsage>;
  /**
   * The fast path of the differ, present exactly when capabilities.nativeDiff: the
   * paths the active snapshot `key` adds, changes or deletes over its parent (all added
   * without a parent), sorted by path, with Docker's rules: every entry of an added
   * directory is added too; a deleted directory is one deletion (its entries are not
   * listed); a directory is modified when its own metadata changed or when anything
   * below it was added, changed or deleted, and marked `opaque` by SnapshotChange's
   * rule; the root is never listed. A file is modified when its type, mode, owner, size,
   * device, link target or mtime differ, or its content was rewritten. It must equal
   * what core's treeChanges gives for the same trees. InvalidArgument for a committed
   * snapshot or a view, NotFound for an unknown key. Callers use core's
   * snapshotChanges, which falls back to comparing trees.
   */
  changes?(key: string): Promise<SnapshotChange[]>;
  /** Every snapshot the driver holds, in no particular order. */
  walk(): Promise<SnapshotInfo[]>;
  /** Key/value pairs for `docker info`'s DriverStatus. */
  status(): Promise<DriverStatus>;
  /** Finish background deletions and release whatever the driver holds open (drivers leave nothing mounted). */
  close?(): Promise<void>;
}
