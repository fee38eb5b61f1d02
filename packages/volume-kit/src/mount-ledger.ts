import { promises as fs } from 'node:fs';
import { writeJsonAtomic } from '@berth/core';

/** One volume's entry: which of Docker's mount IDs hold it, and the path its driver's `mount` returned. */
export interface LedgerEntry {
  readonly mountpoint: string;
  readonly ids: readonly string[];
}

/**
 * Docker's per-container mount IDs of each volume, kept for `serve()` in one JSON file so
 * the count survives a restart of the serving process. Docker calls
 * `VolumeDriver.Mount`/`Unmount` once per container with an `ID`; a berth driver's `mount`
 * must run once for the first and `unmount` once after the last (as the engine does
 * in-process), so someone has to count, and it must not be the author.
 *
 * Lifecycle: `load()` once at start (a missing file is an empty ledger; an unreadable one
 * is an error naming it, never silently empty: that would unmount volumes in use);
 * `add`/`delete` change memory and `save()` writes the whole ledger atomically (a rename),
 * so after a kill -9 the file is either the state before or after one change. Writes are
 * serialised: the last change in memory is what the last write carries.
 */
export class MountLedger {
  private entries = new Map<string, LedgerEntry>();
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  async load(): Promise<void> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new Error(`mount ledger ${this.file} is not JSON (${(err as Error).message}): fix or remove it`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`mount ledger ${this.file} is not an object of volume entries: fix or remove it`);
    }
    for (const [name, value] of Object.entries(parsed)) {
      const e = value as Partial<LedgerEntry>;
      if (typeof e?.mountpoint !== 'string' || !Array.isArray(e.ids) || !e.ids.every((id) => typeof id === 'string')) {
        throw new Error(`mount ledger ${this.file}: the entry of volume ${JSON.stringify(name)} is malformed: fix or remove it`);
      }
      if (e.ids.length > 0) this.entries.set(name, { mountpoint: e.mountpoint, ids: [...e.ids] });
    }
  }

  get(name: string): LedgerEntry | undefined {
    return this.entries.get(name);
  }

  /** The names with at least one mount ID. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Records `id` as a user of `name` mounted at `mountpoint`; true when it was not recorded yet. */
  add(name: string, id: string, mountpoint: string): boolean {
    const ids = this.entries.get(name)?.ids ?? [];
    const fresh = !ids.includes(id);
    this.entries.set(name, { mountpoint, ids: fresh ? [...ids, id] : ids });
    return fresh;
  }

  /** Drops `id` from `name`'s users; returns how many remain. */
  delete(name: string, id: string): number {
    const entry = this.entries.get(name);
    if (!entry) return 0;
    const ids = entry.ids.filter((i) => i !== id);
    if (ids.length === 0) this.entries.delete(name);
    else this.entries.set(name, { mountpoint: entry.mountpoint, ids });
    return ids.length;
  }

  /** Forgets every user of `name` (its volume is gone). */
  drop(name: string): void {
    this.entries.delete(name);
  }

  /** Writes the ledger as it is in memory now (after every write queued before). */
  save(): Promise<void> {
    const next = this.writing.then(() => writeJsonAtomic(this.file, Object.fromEntries(this.entries)));
    // A failed write must not poison the next ones; its caller sees the error.
    this.writing = next.catch(() => {});
    return next;
  }
}
