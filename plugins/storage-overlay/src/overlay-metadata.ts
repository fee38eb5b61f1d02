import type { SnapshotRecordBase, SnapshotRecords } from '@berth/core';

/**
 * One snapshot as the overlay driver records it (in core's SnapshotRecords, the file
 * `metadata.json`). Its directory is `snapshots/<id>`: the id is a small integer, so the
 * paths in an overlay's lowerdir stay short.
 */
export interface OverlaySnapshotRecord extends SnapshotRecordBase {
  /** Mounted with overlay's `volatile` (PrepareOptions.volatile, where the kernel has it). */
  volatile?: true;
}

/** The overlay driver's record of its snapshots. */
export type OverlayMetadata = SnapshotRecords<OverlaySnapshotRecord>;
