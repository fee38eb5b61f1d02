import type { SnapshotRecordBase, SnapshotRecords } from '@berth/core';

/**
 * One snapshot as the btrfs driver records it (in core's SnapshotRecords, the file
 * `metadata.json`). Its subvolume is `snapshots/<id>`.
 */
export interface BtrfsSnapshotRecord extends SnapshotRecordBase {
  /** The qgroup limit set on the subvolume (PrepareOptions.sizeBytes). */
  sizeBytes?: number;
  /**
   * Committed, but its subvolume may not be read-only yet: commit writes the record
   * first, then flips the subvolume, then clears this. A crash in between leaves it set,
   * and open() finishes the flip.
   */
  sealing?: true;
}

/** The btrfs driver's record of its snapshots (its `transact` makes a subvolume alongside the write). */
export type BtrfsMetadata = SnapshotRecords<BtrfsSnapshotRecord>;
