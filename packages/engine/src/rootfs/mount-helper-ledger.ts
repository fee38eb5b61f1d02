import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Who a helper-served mount belongs to, which decides what recovery does with it: a
 * container's root filesystem (kept while the container runs or is created, since its
 * rootfs stays mounted from create to exit), or a mount made for one operation (a layer's
 * extraction, a diff, `docker cp` on a stopped container), which never outlives the
 * engine that made it.
 */
export type MountOwner = { kind: 'container'; id: string } | { kind: 'operation'; purpose: string };

/** One mount helper the engine started, as recorded before it was waited for. */
export interface MountHelperEntry {
  /** The file names' stem: a digest of the target (one helper per mount point). */
  key: string;
  /** The mount point it serves. */
  target: string;
  owner: MountOwner;
  /** Absent only between the record's first write and the process's spawn (then found by its argv). */
  pid?: number;
  /** /proc/<pid>/stat's start time: a recorded pid is that process only while it matches. */
  startTime?: number;
  argv?: string[];
}

/**
 * The mount helpers' ledger: one small JSON file per helper-served mount under
 * `<exec-root>/mount-helpers/` (a helper lives no longer than the boot, like the exec
 * root), written ahead: the record exists before the process does, and is removed only
 * once the process is gone and its mount unmounted. Beside each record its lifeline
 * (`<key>.lifeline`, a FIFO the helper holds open for writing: end-of-file on the read
 * end is its death, also for an engine started after it) and its log (`<key>.log`).
 * Writes are a temporary file renamed over the record: a crash leaves the old record or
 * the new one, never half of one. Owns these files only; the processes are
 * DriverMounts' business.
 */
export class MountHelperLedger {
  constructor(readonly dir: string) {}

  /** The stem of the files of the helper serving `target`. */
  keyOf(target: string): string {
    return createHash('sha256').update(target).digest('hex').slice(0, 24);
  }

  logPath(key: string): string {
    return path.join(this.dir, `${key}.log`);
  }

  lifelinePath(key: string): string {
    return path.join(this.dir, `${key}.lifeline`);
  }

  /** Write (or replace) a record. */
  write(entry: MountHelperEntry): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = path.join(this.dir, `${entry.key}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(entry), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }

  /** Remove a record and the files beside it; gone already is fine. */
  remove(key: string): void {
    for (const suffix of ['.json', '.json.tmp', '.lifeline', '.log']) rmSync(path.join(this.dir, `${key}${suffix}`), { force: true });
  }

  /**
   * Every record, and the keys of unreadable ones (records are renamed into place, so
   * only a damaged disk makes one; the caller logs and removes them). Files without a
   * record (a crash between a record's removal and its lifeline's, a temporary file
   * never renamed) are removed here.
   */
  list(): { entries: MountHelperEntry[]; unreadable: string[] } {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return { entries: [], unreadable: [] };
    }
    const entries: MountHelperEntry[] = [];
    const unreadable: string[] = [];
    const keys = new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)));
    for (const key of keys) {
      try {
        const entry = JSON.parse(readFileSync(path.join(this.dir, `${key}.json`), 'utf8')) as MountHelperEntry;
        if (typeof entry.target !== 'string' || typeof entry.owner?.kind !== 'string') throw new Error('not a mount helper record');
        entries.push({ ...entry, key });
      } catch {
        unreadable.push(key);
      }
    }
    for (const name of names) {
      const key = name.slice(0, 24);
      if (!keys.has(key)) rmSync(path.join(this.dir, name), { force: true });
    }
    return { entries, unreadable };
  }
}
