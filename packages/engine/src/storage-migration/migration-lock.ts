import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Conflict, processAlive } from '@berth/core';
import { migrationDir } from './migration-journal.js';

/**
 * One migration of a data root at a time: `storage-migration/migrate.pid`, made with
 * O_EXCL and naming the process that holds it. A file naming a process that is gone (a
 * migration killed with kill -9) is stale and taken over; one naming a live process is a
 * Conflict naming it. Released (deleted) when the migration ends, done or refused.
 */
export class MigrationLock {
  private constructor(private readonly file: string) {}

  static async acquire(dataRoot: string): Promise<MigrationLock> {
    const file = path.join(migrationDir(dataRoot), 'migrate.pid');
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await fs.writeFile(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
        return new MigrationLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number(readPid(file));
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
        throw new Conflict(`another storage migration of ${dataRoot} is running (pid ${holder})`);
      }
      await fs.rm(file, { force: true }); // stale: its process is gone
    }
    throw new Conflict(`cannot take the storage migration lock ${file}: other migrations keep starting`);
  }

  async release(): Promise<void> {
    await fs.rm(this.file, { force: true });
  }
}

function readPid(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}
