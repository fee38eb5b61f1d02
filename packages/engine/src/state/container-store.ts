import { promises as fs } from 'node:fs';
import {
  BackgroundRemoval,
  Conflict,
  InvalidArgument,
  inject,
  injectable,
  type Logger,
  LoggerToken,
  NotFound,
  token,
  writeJsonAtomic,
} from '@berth/core';
import { type ContainerPaths, ContainerPathsToken } from '../containers/container-paths.js';
import type { ContainerRecord } from '../containers/container-record.js';
import { containerRecordSchema, migrateRecord } from './record-schema.js';

/**
 * The containers the engine knows, in memory and on disk. Lifecycle: `load` once at
 * start (before anything else reads it), then lookups and writes for the engine's life,
 * `drain` at close. Names are unique; lookups accept an id, a name, or a unique id prefix.
 * It is also the port images ask "who uses this image" (`ImageUsers`).
 */
export interface ContainerStore {
  /**
   * Read every record. A record that cannot be read is skipped and reported (it never
   * breaks the listing of the others); a container directory without a record is
   * reported as incomplete; leftovers of interrupted removals are deleted.
   */
  load(report: LoadReport): Promise<ContainerRecord[]>;
  /** Delete the directory of a container that has no record (an incomplete create), in the background. */
  discard(id: string): void;
  /** Reserve a name for a new container; Conflict with Docker's message if it is taken. */
  reserveName(name: string, id: string): void;
  releaseName(name: string, id: string): void;
  /** Whether a name belongs to a container or to a create still under way. */
  nameTaken(name: string): boolean;
  /** Make `record` the live one and write it durably. */
  save(record: ContainerRecord): Promise<void>;
  /**
   * Write what a saved container's record will be, without making it the live one: for
   * a state written ahead of the change it records. The caller awaits it before any later
   * save of the same record, so the file ends with the later one.
   */
  persist(snapshot: ContainerRecord): Promise<void>;
  /** Forget a container and remove its directory (renamed away at once, deleted in the background). */
  delete(record: ContainerRecord): Promise<void>;
  /** Resolves once background deletions are done. */
  drain(): Promise<void>;
  all(): ContainerRecord[];
  /** By full id, name (with or without `/`), or unique id prefix; NotFound otherwise. */
  get(ref: string): ContainerRecord;
  find(ref: string): ContainerRecord | undefined;
}

export const ContainerStoreToken = token<ContainerStore>('ContainerStore');

/** What `load` tells of the container directories it could not take as containers. */
export interface LoadReport {
  /** A record that cannot be read (corrupt, or written by a newer berth): skipped, left on disk. */
  unreadable(id: string, err: unknown): void;
  /**
   * A container directory without a record: what a create interrupted before its last
   * step leaves (its rootfs may still be mounted). The caller unmounts, then `discard`s.
   */
  incomplete(id: string): void;
}

/**
 * The ContainerStore of a data root: each record its own file
 * (`containers/<id>/container.json`), written atomically, so a crash loses at most the
 * change being written. Records carry a schema version and are migrated as they are read.
 */
@injectable()
export class FileContainerStore implements ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();
  private readonly byName = new Map<string, string>();
  private readonly removal: BackgroundRemoval;

  constructor(
    @inject(ContainerPathsToken) private readonly paths: ContainerPaths,
    @inject(LoggerToken) log: Logger,
  ) {
    this.removal = new BackgroundRemoval(log);
  }

  async load(report: LoadReport): Promise<ContainerRecord[]> {
    await fs.mkdir(this.paths.root, { recursive: true, mode: 0o700 });
    for (const id of await fs.readdir(this.paths.root)) {
      if (BackgroundRemoval.isLeftover(id)) {
        this.removal.deleteLater(this.paths.dir(id));
        continue;
      }
      let text: string;
      try {
        text = await fs.readFile(this.paths.record(id), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') report.incomplete(id);
        else report.unreadable(id, err);
        continue;
      }
      try {
        const record = migrateRecord(JSON.parse(text));
        if (record.id !== id) throw new Error(`the record in ${id} names container ${record.id}`);
        this.byId.set(record.id, record);
        this.byName.set(record.name, record.id);
      } catch (err) {
        report.unreadable(id, err);
      }
    }
    return [...this.byId.values()];
  }

  discard(id: string): void {
    if (this.byId.has(id)) throw new Conflict(`container ${id} has a record: remove it instead`);
    this.removal.remove(this.paths.dir(id));
  }

  reserveName(name: string, id: string): void {
    const owner = this.byName.get(name);
    if (owner && owner !== id) {
      throw new Conflict(
        `Conflict. The container name "/${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    this.byName.set(name, id);
  }

  releaseName(name: string, id: string): void {
    if (this.byName.get(name) === id) this.byName.delete(name);
  }

  nameTaken(name: string): boolean {
    return this.byName.has(name);
  }

  async save(record: ContainerRecord): Promise<void> {
    record.schemaVersion = containerRecordSchema;
    this.byId.set(record.id, record);
    this.byName.set(record.name, record.id);
    await fs.mkdir(this.paths.dir(record.id), { recursive: true, mode: 0o710 });
    await writeJsonAtomic(this.paths.record(record.id), record);
  }

  async persist(snapshot: ContainerRecord): Promise<void> {
    if (!this.byId.has(snapshot.id)) throw new NotFound(`No such container: ${snapshot.id}`);
    await writeJsonAtomic(this.paths.record(snapshot.id), { ...snapshot, schemaVersion: containerRecordSchema });
  }

  async delete(record: ContainerRecord): Promise<void> {
    this.byId.delete(record.id);
    this.releaseName(record.name, record.id);
    this.removal.remove(this.paths.dir(record.id));
  }

  drain(): Promise<void> {
    return this.removal.drain();
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  get(ref: string): ContainerRecord {
    const found = this.find(ref);
    if (!found) throw new NotFound(`No such container: ${ref}`);
    return found;
  }

  find(ref: string): ContainerRecord | undefined {
    if (!ref) return undefined;
    const exact = this.byId.get(ref);
    if (exact) return exact;
    const named = this.byName.get(ref.startsWith('/') ? ref.slice(1) : ref);
    if (named) return this.byId.get(named);
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    let match: ContainerRecord | undefined;
    for (const [id, record] of this.byId) {
      if (!id.startsWith(ref)) continue;
      if (match) throw new InvalidArgument(`multiple containers found with provided prefix: ${ref}`);
      match = record;
    }
    return match;
  }
}
