import { promises as fs } from 'node:fs';
import { removeAtomicLeftovers, type SnapshotKind, SystemError, writeJsonAtomic } from '@berth/core';

/** One snapshot as the btrfs driver records it. Its subvolume is `snapshots/<id>`. */
export interface BtrfsSnapshotRecord {
  id: number;
  parent?: string;
  kind: SnapshotKind;
  created: string;
  /** SnapshotOptions.labels; absent when none. */
  labels?: Record<string, string>;
  /** The qgroup limit set on the subvolume (PrepareOptions.sizeBytes). */
  sizeBytes?: number;
  /**
   * Committed, but its subvolume may not be read-only yet: commit writes the record
   * first, then flips the subvolume, then clears this. A crash in between leaves it set,
   * and open() finishes the flip.
   */
  sealing?: true;
}

interface MetadataFile {
  version: 1;
  nextId: number;
  snapshots: Record<string, BtrfsSnapshotRecord>;
}

/** The working copy a transaction edits; it becomes the state only once written. */
export interface BtrfsMetadataDraft {
  readonly records: Map<string, BtrfsSnapshotRecord>;
  /** A fresh id, never handed out before. */
  allocateId(): number;
}

/**
 * The btrfs driver's record of its snapshots: one JSON file (`metadata.json`) mapping
 * each key to its id, parent, kind, creation time, labels and limit, rewritten
 * atomically (core's writeJsonAtomic). Changes run one at a time (`transact`), each
 * writing the whole file; a change that throws leaves the state as it was.
 */
export class BtrfsMetadata {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private nextId: number,
    private records: Map<string, BtrfsSnapshotRecord>,
  ) {}

  static async load(file: string): Promise<BtrfsMetadata> {
    // A rewrite a crash cut short left its temporary file; the file holds the state before it.
    await removeAtomicLeftovers(file);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new BtrfsMetadata(file, 1, new Map());
      throw err;
    }
    let parsed: MetadataFile;
    try {
      parsed = JSON.parse(text) as MetadataFile;
    } catch (err) {
      throw new SystemError(`btrfs metadata ${file} is not valid JSON`, { cause: err });
    }
    if (parsed.version !== 1 || typeof parsed.nextId !== 'number' || typeof parsed.snapshots !== 'object') {
      throw new SystemError(`btrfs metadata ${file} has an unknown format (version ${String(parsed.version)})`);
    }
    return new BtrfsMetadata(file, parsed.nextId, new Map(Object.entries(parsed.snapshots)));
  }

  get(key: string): BtrfsSnapshotRecord | undefined {
    return this.records.get(key);
  }

  entries(): Array<[string, BtrfsSnapshotRecord]> {
    return [...this.records];
  }

  /**
   * Run `change` alone against a draft; when it resolves, write the draft and make it
   * current. `alongside(result)` runs at the same time as the write (btrfs: the subvolume
   * the new record names, made while the record is written, since both cost a btrfs
   * transaction): the draft becomes current only when both succeed. When `alongside`
   * fails, the file is written back to the state before (ids stay used), so the record
   * of something never made does not stay; a crash before that leaves a record whose
   * subvolume is missing, which the driver's open drops.
   */
  transact<T>(change: (draft: BtrfsMetadataDraft) => Promise<T>, alongside?: (result: T) => Promise<unknown>): Promise<T> {
    const run = this.queue.then(async () => {
      const records = new Map(this.records);
      let nextId = this.nextId;
      const result = await change({ records, allocateId: () => nextId++ });
      const [written, made] = await Promise.allSettled([
        writeJsonAtomic(this.file, { version: 1, nextId, snapshots: Object.fromEntries(records) } satisfies MetadataFile),
        alongside ? alongside(result) : Promise.resolve(),
      ]);
      if (made.status === 'rejected') {
        this.nextId = nextId;
        await writeJsonAtomic(this.file, { version: 1, nextId, snapshots: Object.fromEntries(this.records) } satisfies MetadataFile);
        throw made.reason;
      }
      if (written.status === 'rejected') throw written.reason;
      this.records = records;
      this.nextId = nextId;
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
