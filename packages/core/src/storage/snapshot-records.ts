import { promises as fs } from 'node:fs';
import type { SnapshotInfo, SnapshotKind } from '../contracts/storage.js';
import { Conflict, InvalidArgument, NotFound, SystemError } from '../errors.js';
import { removeAtomicLeftovers, writeJsonAtomic } from '../fs/atomic-write.js';

/** What every driver records of a snapshot; a driver's record adds its own fields. */
export interface SnapshotRecordBase {
  /** A small integer naming the snapshot's directory or subvolume; never reused. */
  id: number;
  parent?: string;
  kind: SnapshotKind;
  created: string;
  /**
   * The snapshot's labels (SnapshotOptions.labels); absent when it has none, which is
   * also how every record written before labels reads.
   */
  labels?: Record<string, string>;
}

/** The content of `metadata.json`. */
interface SnapshotRecordsFile<R> {
  version: 1;
  nextId: number;
  snapshots: Record<string, R>;
}

/** The working copy a transaction edits; it becomes the store's state only once written. */
export interface SnapshotRecordsDraft<R> {
  readonly records: Map<string, R>;
  /** A fresh id, never handed out before (ids are not reused, so a stale path never names a new snapshot). */
  allocateId(): number;
}

/**
 * A storage driver's record of its snapshots: one JSON file mapping each key or name to
 * its record (id, parent, kind, creation time, labels and the driver's own fields),
 * rewritten atomically (writeJsonAtomic) after every change, so a snapshot exists with
 * all of its record or not at all. Fields added later within `version: 1` are optional,
 * so files written before them load unchanged.
 *
 * Changes run one at a time (`transact`): each writes the whole file, so two at once
 * could write their states out of order and lose one. They are all quick, so the queue
 * costs little. A change that throws leaves the state, in memory and on disk, as it was.
 */
export class SnapshotRecords<R extends SnapshotRecordBase> {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private nextId: number,
    private records: Map<string, R>,
  ) {}

  /**
   * Read `file`, or start empty when it does not exist yet. `driver` names the driver in
   * the errors of a file that cannot be read.
   */
  static async load<R extends SnapshotRecordBase>(file: string, driver: string): Promise<SnapshotRecords<R>> {
    // A rewrite a crash cut short left its temporary file; the file holds the state before it.
    await removeAtomicLeftovers(file);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new SnapshotRecords<R>(file, 1, new Map());
      throw err;
    }
    let parsed: SnapshotRecordsFile<R>;
    try {
      parsed = JSON.parse(text) as SnapshotRecordsFile<R>;
    } catch (err) {
      throw new SystemError(`${driver} metadata ${file} is not valid JSON`, { cause: err });
    }
    if (parsed.version !== 1 || typeof parsed.nextId !== 'number' || typeof parsed.snapshots !== 'object') {
      throw new SystemError(`${driver} metadata ${file} has an unknown format (version ${String(parsed.version)})`);
    }
    return new SnapshotRecords<R>(file, parsed.nextId, new Map(Object.entries(parsed.snapshots)));
  }

  get(key: string): R | undefined {
    return this.records.get(key);
  }

  /** The record of `key`: NotFound (naming it) when there is none. */
  existing(key: string): R {
    const record = this.records.get(key);
    if (!record) throw new NotFound(`no such snapshot: ${key}`);
    return record;
  }

  /** Every record by key as they are now: a transaction replaces this map, never changes it. */
  current(): ReadonlyMap<string, R> {
    return this.records;
  }

  entries(): Array<[string, R]> {
    return [...this.records];
  }

  /** The ids of every recorded snapshot, to tell its directories from leftovers of a crash. */
  ids(): Set<number> {
    return new Set([...this.records.values()].map((r) => r.id));
  }

  /**
   * StorageDriver.commit's change of the records: active snapshot `key` becomes committed
   * `name`, with the labels given here (never the active snapshot's) and the fields
   * `committed` keeps of the active record (a driver drops what only an active snapshot
   * has: volatile, a size limit). NotFound, InvalidArgument (not active) and Conflict
   * (`name` taken) as the contract says. Resolves with the active record.
   */
  commit(name: string, key: string, labels: Record<string, string>, committed: (active: R) => R = (active) => active): Promise<R> {
    return this.transact(async ({ records }) => {
      const record = records.get(key);
      if (!record) throw new NotFound(`no such snapshot: ${key}`);
      if (record.kind !== 'active')
        throw new InvalidArgument(`snapshot ${key} is a ${record.kind}: only an active snapshot can be committed`);
      if (records.has(name)) throw new Conflict(`snapshot ${name} already exists`);
      const { labels: _activeLabels, ...kept } = committed(record);
      records.delete(key);
      records.set(name, withLabels({ ...kept, kind: 'committed' } as R, labels));
      return record;
    });
  }

  /**
   * StorageDriver.remove's change of the records: `key`'s record dropped; NotFound without
   * one, Conflict while another snapshot names it as its parent. Resolves with the removed
   * record, whose directory or subvolume the driver deletes next (after the record: a
   * crash leaves an unrecorded directory, which the driver's open deletes).
   */
  remove(key: string): Promise<R> {
    return this.transact(async ({ records }) => {
      const record = records.get(key);
      if (!record) throw new NotFound(`no such snapshot: ${key}`);
      const children = [...records].filter(([, r]) => r.parent === key).map(([k]) => k);
      if (children.length > 0) throw new Conflict(`cannot remove snapshot ${key}: it is the parent of ${children.join(', ')}`);
      records.delete(key);
      return record;
    });
  }

  /**
   * Run `change` alone against a draft; when it resolves, write the draft and make it
   * current. Resolves with what `change` returned.
   *
   * `alongside(result)` runs at the same time as the write (btrfs: the subvolume the new
   * record names, made while the record is written, since both cost a btrfs
   * transaction): the draft becomes current only when both succeed. When `alongside`
   * fails, the file is written back to the state before (ids stay used), so the record
   * of something never made does not stay; a crash before that leaves a record whose
   * subvolume is missing, which the driver's open drops.
   */
  transact<T>(change: (draft: SnapshotRecordsDraft<R>) => Promise<T>, alongside?: (result: T) => Promise<unknown>): Promise<T> {
    const run = this.queue.then(async () => {
      const records = new Map(this.records);
      let nextId = this.nextId;
      const result = await change({ records, allocateId: () => nextId++ });
      const [written, made] = await Promise.allSettled([
        writeJsonAtomic(this.file, { version: 1, nextId, snapshots: Object.fromEntries(records) } satisfies SnapshotRecordsFile<R>),
        alongside ? alongside(result) : Promise.resolve(),
      ]);
      if (made.status === 'rejected') {
        this.nextId = nextId;
        await writeJsonAtomic(this.file, {
          version: 1,
          nextId,
          snapshots: Object.fromEntries(this.records),
        } satisfies SnapshotRecordsFile<R>);
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

/**
 * The record of parent snapshot `parent` in `records`, which the contract wants committed:
 * NotFound when there is none, InvalidArgument when it is active or a view.
 */
export function committedParent<R extends SnapshotRecordBase>(records: ReadonlyMap<string, R>, parent: string): R {
  const record = records.get(parent);
  if (!record) throw new NotFound(`no such parent snapshot: ${parent}`);
  if (record.kind !== 'committed') throw new InvalidArgument(`parent snapshot ${parent} is ${record.kind}, not committed`);
  return record;
}

/** What `stat` and `walk` return of a record: the labels a copy, so a caller's changes never reach it. */
export function snapshotInfo(key: string, record: SnapshotRecordBase): SnapshotInfo {
  const result: SnapshotInfo = { key, kind: record.kind, created: record.created, labels: { ...record.labels } };
  if (record.parent !== undefined) result.parent = record.parent;
  return result;
}

/**
 * `record` with `labels`, stored only when there are some: a snapshot without labels is
 * recorded exactly as before labels existed (and as older berths read it).
 */
export function withLabels<R extends SnapshotRecordBase>(record: R, labels: Record<string, string>): R {
  if (Object.keys(labels).length > 0) record.labels = labels;
  return record;
}
