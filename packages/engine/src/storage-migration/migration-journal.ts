import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Conflict, writeJsonAtomic } from '@berth/core';

/**
 * The journal of a storage migration (`berth storage migrate --to <driver>`), kept in
 * `<data-root>/storage-migration/journal.json` from the first change a migration makes
 * until its last, so that a run cut short (kill -9, a power cut) is finished or undone by
 * the next run, and no berthd opens the data root meanwhile.
 *
 * Lifecycle:
 * - written with `phase: 'copy'` before the target driver is initialised: from then on
 *   the target's state is the migration's, undone by `--abort` or finished by running
 *   the same migration again; `containers` grows (each write atomic) as each stopped
 *   container's changes are copied and checked on the target;
 * - rewritten with `phase: 'switch'` once everything is on the target and checked: the
 *   point of no return. From then on only finishing is possible (records updated, the
 *   source driver's snapshots removed, its directory deleted), and every step of it is
 *   safe to run again;
 * - deleted last, when the data root holds the target driver's state only.
 */
export interface MigrationJournal {
  from: string;
  to: string;
  phase: 'copy' | 'switch';
  /** When the migration began, ISO 8601. */
  started: string;
  /** The containers whose changes are on the target and checked, by id. */
  containers: string[];
}

/** The directory a migration works in: the journal, the mount points, the containers' change tars. */
export function migrationDir(dataRoot: string): string {
  return path.join(dataRoot, 'storage-migration');
}

function journalFile(dataRoot: string): string {
  return path.join(migrationDir(dataRoot), 'journal.json');
}

/** The journal of an unfinished migration of `dataRoot`, or undefined when none is under way. */
export async function readMigrationJournal(dataRoot: string): Promise<MigrationJournal | undefined> {
  let text: string;
  try {
    text = await fs.readFile(journalFile(dataRoot), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const journal = JSON.parse(text) as MigrationJournal;
  if (typeof journal.from !== 'string' || typeof journal.to !== 'string' || !Array.isArray(journal.containers)) {
    throw new Conflict(`the storage migration journal ${journalFile(dataRoot)} is not one this berth wrote`);
  }
  return journal;
}

/** Write the journal atomically (made with its directory when missing). */
export async function writeMigrationJournal(dataRoot: string, journal: MigrationJournal): Promise<void> {
  await fs.mkdir(migrationDir(dataRoot), { recursive: true, mode: 0o700 });
  await writeJsonAtomic(journalFile(dataRoot), journal);
}

/** Delete the journal: the migration is over (finished or undone). */
export async function removeMigrationJournal(dataRoot: string): Promise<void> {
  await fs.rm(journalFile(dataRoot), { force: true });
}

/**
 * Throws Conflict when a migration of `dataRoot` is unfinished: an engine must not open
 * a data root whose storage is half on one driver and half on another. The message says
 * how to finish or undo it.
 */
export async function refuseWhileMigrating(dataRoot: string): Promise<void> {
  const journal = await readMigrationJournal(dataRoot);
  if (!journal) return;
  const undo = journal.phase === 'copy' ? `, or undo it with berth storage migrate --abort` : '';
  throw new Conflict(
    `a storage migration of ${dataRoot} from ${journal.from} to ${journal.to} is unfinished: finish it with berth storage migrate --to ${journal.to}${undo}`,
  );
}
