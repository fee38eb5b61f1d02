import { promises as fs } from 'node:fs';
import { removeAtomicLeftovers, type SnapshotKind, SystemError, writeJsonAtomic } from '@berth/core';

/** One snapshot as the fuse driver records it. Its directory is `snapshots/<id>`. */
export interface FuseSnapshotRecord {
  /** A small integer naming the snapshot's directory; never reused. */
  id: number;
  parent?: string;
  kind: SnapshotKind;
  created: string;
  /** Served with fsync a no-op (PrepareOptions.volatile). */
  volatile?: true;
  /** The snapshot's labels (SnapshotOptions.labels); absent when it has none. */
  labels?: Record<string, string>;
}

interface MetadataFile {
  version: 1;
  nextId: number;
  snapshots: Record<string, FuseSnapshotRecord>;
}

/** The working copy a transaction edits; it becomes the store's state only once written. */
export interface MetadataDraft {
  readonly records: Map<string, FuseSnapshotRecord>;
  /** A fresh id, never handed out before. */
  allocateId(): number;
}

/**
 * The fuse driver's record of its snapshots: `metadata.json` mapping each key or name to
 * its id, parent, kind, creation time and labels, rewritten atomically (core's
 * writeJsonAtomic) after every change, so a snapshot exists with all of its record or
 * not at all. Changes run one at a time (`transact`); one that throws leaves the state,
 * in memory and on disk, as it was. Same shape as the overlay driver's file, so the two
 * read alike.
 */
export class FuseMetadata {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private nextId: number,
    private records: Map<string, FuseSnapshotRecord>,
  ) {}

  /** Read `file`, or start empty when it does not exist yet (a cut-short rewrite's temporary file removed first). */
  static async load(file: string): Promise<FuseMetadata> {
    await removeAtomicLeftovers(file);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new FuseMetadata(file, 1, new Map());
      throw err;
    }
    let parsed: MetadataFile;
    try {
      parsed = JSON.parse(text) as MetadataFile;
    } catch (err) {
      throw new SystemError(`fuse metadata ${file} is not valid JSON`, { cause: err });
    }
    if (parsed.version !== 1 || typeof parsed.nextId !== 'number' || typeof parsed.snapshots !== 'object') {
      throw new SystemError(`fuse metadata ${file} has an unknown format (version ${String(parsed.version)})`);
    }
    return new FuseMetadata(file, parsed.nextId, new Map(Object.entries(parsed.snapshots)));
  }

  get(key: string): FuseSnapshotRecord | undefined {
    return this.records.get(key);
  }

  entries(): Array<[string, FuseSnapshotRecord]> {
    return [...this.records];
  }

  /** The ids of every recorded snapshot, to tell its directories from leftovers of a crash. */
  ids(): Set<number> {
    return new Set([...this.records.values()].map((r) => r.id));
  }

  /** Run `change` alone against a draft; when it resolves, write the draft and make it current. */
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
