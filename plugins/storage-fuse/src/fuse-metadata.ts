import type { SnapshotRecordBase, SnapshotRecords } from '@berth/core';

/**
 * One snapshot as the fuse driver records it (in core's SnapshotRecords, the file
 * `metadata.json`, the same shape as the overlay driver's). Its directory is `snapshots/<id>`.
 */
export interface FuseSnapshotRecord extends SnapshotRecordBase {
  /** Served with fsync a no-op (PrepareOptions.volatile). */
  volatile?: true;
}

/** The fuse driver's record of its snapshots. */
export type FuseMetadata = SnapshotRecords<FuseSnapshotRecord>;
