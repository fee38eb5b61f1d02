import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { inject, injectable, token, writeJsonAtomic } from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { checkVolumeName } from './volume-name.js';
import type { VolumeRecord } from './volume-record.js';

/** The directory of the engine's volume records, under `<data-root>/volumes`. `_` cannot begin a volume name, so no volume collides with it. */
export const VOLUME_RECORDS_DIR = '_records';

/**
 * The engine's volume records on disk and in memory: one file per volume,
 * `<data-root>/volumes/_records/<name>.json`, each written atomically (temporary file,
 * fsync, rename). The record is written after the driver made the volume and deleted
 * before the driver removes it, so a crash in between leaves a driver volume without a
 * record, which `VolumeService.load` adopts back (Docker does the same with the volumes
 * its local driver finds). Holds no lock: VolumeService serialises what changes a volume.
 */
@injectable()
export class VolumeStore {
  private readonly dir: string;
  private readonly records = new Map<string, VolumeRecord>();

  constructor(@inject(EngineConfigToken) config: ResolvedEngineConfig) {
    this.dir = path.join(config.dataRoot, 'volumes', VOLUME_RECORDS_DIR);
  }

  /** Read every record; an unreadable one is reported and skipped, a temporary file a crash left is deleted. */
  async load(unreadable: (file: string, err: unknown) => void): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const entry of await fs.readdir(this.dir)) {
      const file = path.join(this.dir, entry);
      if (entry.startsWith('.') && entry.endsWith('.tmp')) {
        await fs.rm(file, { force: true });
        continue;
      }
      if (!entry.endsWith('.json')) continue;
      try {
        const record = JSON.parse(await fs.readFile(file, 'utf8')) as VolumeRecord;
        checkVolumeName(record.name);
        if (`${record.name}.json` !== entry) throw new Error(`record of ${record.name} in ${entry}`);
        this.records.set(record.name, record);
      } catch (err) {
        unreadable(file, err);
      }
    }
  }

  list(): VolumeRecord[] {
    return [...this.records.values()];
  }

  get(name: string): VolumeRecord | undefined {
    return this.records.get(name);
  }

  async save(record: VolumeRecord): Promise<void> {
    checkVolumeName(record.name);
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeJsonAtomic(path.join(this.dir, `${record.name}.json`), record);
    this.records.set(record.name, record);
  }

  async delete(name: string): Promise<void> {
    checkVolumeName(name);
    await fs.rm(path.join(this.dir, `${name}.json`), { force: true });
    this.records.delete(name);
  }
}

export const VolumeStoreToken = token<VolumeStore>('VolumeStore');
