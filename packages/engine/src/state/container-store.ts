import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { BackgroundRemoval, Conflict, InvalidArgument, type Logger, NotFound, writeJsonAtomic } from '@berth/core';
import type { ContainerRecord } from '../containers/container-record.js';

/**
 * The containers the engine knows, in memory and on disk. Each record is its own
 * file, written atomically, so a crash loses at most the change being written.
 * Names are unique; lookups accept an id, a name, or a unique id prefix.
 */
export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();
  private readonly byName = new Map<string, string>();
  private readonly removal: BackgroundRemoval;

  constructor(
    readonly root: string,
    log?: Logger,
  ) {
    this.removal = new BackgroundRemoval(log);
  }

  /**
   * Read every record under the root. A record that cannot be parsed is skipped and
   * reported; directories of removals a crash interrupted are deleted.
   */
  async load(onBad: (id: string, err: unknown) => void): Promise<ContainerRecord[]> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const id of await fs.readdir(this.root)) {
      if (BackgroundRemoval.isLeftover(id)) {
        this.removal.deleteLater(path.join(this.root, id));
        continue;
      }
      try {
        const record = JSON.parse(await fs.readFile(this.recordPath(id), 'utf8')) as ContainerRecord;
        this.byId.set(record.id, record);
        this.byName.set(record.name, record.id);
      } catch (err) {
        onBad(id, err);
      }
    }
    return [...this.byId.values()];
  }

  /** The directory of one container's files (record, log, bundle, rootfs mount point). */
  dir(id: string): string {
    return path.join(this.root, id);
  }

  private recordPath(id: string): string {
    return path.join(this.root, id, 'container.json');
  }

  /** Reserve a name for a new container; throws Conflict with Docker's message if it is taken. */
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

  async save(record: ContainerRecord): Promise<void> {
    this.byId.set(record.id, record);
    this.byName.set(record.name, record.id);
    await fs.mkdir(this.dir(record.id), { recursive: true, mode: 0o710 });
    await writeJsonAtomic(this.recordPath(record.id), record);
  }

  /**
   * Write what a saved container's record will be (`save` of the live object follows),
   * without making it the live one: for a state written ahead of the change it records,
   * while that change is under way. The caller awaits it before any later save of the
   * same record, so the file ends with the later one.
   */
  async persist(snapshot: ContainerRecord): Promise<void> {
    if (!this.byId.has(snapshot.id)) throw new NotFound(`No such container: ${snapshot.id}`);
    await writeJsonAtomic(this.recordPath(snapshot.id), snapshot);
  }

  /**
   * Forget a container and remove its directory: renamed away at once (its log and
   * anonymous volumes may be large), deleted in the background; `drain` awaits that.
   */
  async delete(record: ContainerRecord): Promise<void> {
    this.byId.delete(record.id);
    this.releaseName(record.name, record.id);
    this.removal.remove(this.dir(record.id));
  }

  /** Resolves once the background deletions of removed containers' directories are done. */
  drain(): Promise<void> {
    return this.removal.drain();
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  /** Find by full id, name (with or without `/`), or unique id prefix. */
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
