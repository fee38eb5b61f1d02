import { promises as fs } from 'node:fs';
import { removeAtomicLeftovers, type SnapshotKind, SystemError, writeJsonAtomic } from '@berth/core';

/** One snapshot as the overlay driver records it. Its directory is `snapshots/<id>`. */
export interface OverlaySnapshotRecord {
  /** A small integer, so the paths in an overlay's lowerdir stay short. */
  id: number;
  parent?: string;
  kind: SnapshotKind;
  created: string;
  /** Mounted with overlay's `volatile` (PrepareOptions.volatile, where the kernel has it). */
  volatile?: true;
  /**
   * The snapshot's labels (SnapshotOptions.labels); absent when it has none, which is
   * also how every record written before labels reads.
   */
  labels?: Record<string, string>;
}

/** The content of `metadata.json`. */
interface MetadataFile {
  version: 1;
  nextId: number;
  snapshots: Record<string, OverlaySnapshotRecord>;
}

/** The working copy a transaction edits; it becomes the store's state only once written. */
export interface MetadataDraft {
  readonly records: Map<string, OverlaySnapshotRecord>;
  /** A fresh id, never handed out before (ids are not reused, so a stale path never names a new snapshot). */
  allocateId(): number;
}

/**
 * The overlay driver's record of its snapshots: one JSON file mapping each key or
 * name to its id, parent, kind, creation time and labels, rewritten atomically (core's
 * writeJsonAtomic) after every change. Labels came later within the same `version: 1`:
 * they are optional in a record, so files written before them load unchanged, and an
 * older berth reading a newer file sees records with one field it ignores.
 *
 * Changes run one at a time (`transact`): each writes the whole file, so two at once
 * could write their states out of order and lose one. They are all quick (a mkdir and
 * a small file), so the queue costs little. A change that throws leaves the state, in
 * memory and on disk, as it was.
 */
export class OverlayMetadata {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private nextId: number,
    private records: Map<string, OverlaySnapshotRecord>,
  ) {}

  /** Read `file`, or start empty when it does not exist yet. */
  static async load(file: string): Promise<OverlayMetadata> {
    // A rewrite a crash cut short left its temporary file; the file holds the state before it.
    await removeAtomicLeftovers(file);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new OverlayMetadata(file, 1, new Map());
      throw err;
    }
    let parsed: MetadataFile;
    try {
      parsed = JSON.parse(text) as MetadataFile;
    } catch (err) {
      throw new SystemError(`overlay metadata ${file} is not valid JSON`, { cause: err });
    }
    if (parsed.version !== 1 || typeof parsed.nextId !== 'number' || typeof parsed.snapshots !== 'object') {
      throw new SystemError(`overlay metadata ${file} has an unknown format (version ${String(parsed.version)})`);
    }
    return new OverlayMetadata(file, parsed.nextId, new Map(Object.entries(parsed.snapshots)));
  }

  get(key: string): OverlaySnapshotRecord | undefined {
    return this.records.get(key);
  }

  entries(): Array<[string, OverlaySnapshotRecord]> {
    return [...this.records];
  }

  /** The ids of every recorded snapshot, to tell its directories from leftovers of a crash. */
  ids(): Set<number> {
    return new Set([...this.records.values()].map((r) => r.id));
  }

  /**
   * Run `change` alone against a draft of the state; when it resolves, write the draft
   * and make it current. Resolves with what `change` returned.
   */
  transact<T>(change: (draft: MetadataDraft) => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      const records = new Map(this.records);
      let nextId = this.nextId;
      const result = await change({ records, allocateId: () => nextId++ });
      const content: MetadataFile = { version: 1, nextId, snapshots: Object.fromEntries(records) };
      await writeJsonAtomic(this.file, content);
      this.records = records;
      this.nextId = nextId;
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
