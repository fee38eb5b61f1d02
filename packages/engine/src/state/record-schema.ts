import type { ContainerRecord } from '../containers/container-record.js';
import { validateRecordTypes } from './record-validation.js';

/** The version of the container record this berth writes. */
export const containerRecordSchema = 3;

/**
 * One step from version `from` to `from + 1`. Steps only add or reshape fields; each is
 * written once and never changed, so a record of any older version reaches the current
 * one by running the steps in order.
 */
interface Migration {
  from: number;
  what: string;
  migrate(record: Record<string, unknown>): Record<string, unknown>;
}

const migrations: Migration[] = [
  {
    from: 0,
    what: 'records written before the schema had a version: same fields, now versioned',
    migrate: (record) => ({ ...record, schemaVersion: 1 }),
  },
  {
    from: 1,
    what: 'records may carry `pending` (a start written ahead) and `manuallyStopped` (for restart policies); version 1 had neither, so nothing changes but the version',
    migrate: (record) => ({ ...record, schemaVersion: 2 }),
  },
  {
    from: 2,
    what: "one network per container (`networkMode`, `endpointRequest`) becomes the list `networks`, the mode's network first",
    migrate: ({ endpointRequest, ...record }) => {
      const mode = typeof record.networkMode === 'string' && record.networkMode ? record.networkMode : 'default';
      const asked = (endpointRequest ?? {}) as { ipv4Address?: string; aliases?: string[] };
      const mac = (record.config as { MacAddress?: string } | undefined)?.MacAddress;
      const networks = mode.startsWith('container:')
        ? []
        : [
            {
              network: mode,
              ...(asked.ipv4Address ? { ipv4Address: asked.ipv4Address } : {}),
              ...(asked.aliases?.length ? { aliases: asked.aliases } : {}),
              ...(mac ? { macAddress: mac } : {}),
            },
          ];
      return { ...record, networks, schemaVersion: 3 };
    },
  },
];

/**
 * A record as read from disk, brought to the current schema. Throws (with what is wrong)
 * for what is not a container record, or is one of a newer berth: the store then skips
 * and reports it instead of guessing. A migrated record is written back in the current
 * schema the next time the engine saves it.
 */
export function migrateRecord(raw: unknown): ContainerRecord {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('not a JSON object');
  let record = raw as Record<string, unknown>;
  const version = record.schemaVersion ?? 0;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) {
    throw new Error(`invalid schemaVersion ${JSON.stringify(version)}`);
  }
  if (version > containerRecordSchema) {
    throw new Error(`written by a newer berth (record schema ${version}, this berth reads up to ${containerRecordSchema})`);
  }
  for (const step of migrations) if (step.from >= version) record = step.migrate(record);
  if (typeof record.id !== 'string' || !/^[0-9a-f]{64}$/.test(record.id)) throw new Error('no valid id');
  if (typeof record.name !== 'string' || !record.name) throw new Error('no name');
  if (typeof record.state !== 'object' || record.state === null) throw new Error('no state');
  validateRecordTypes(record);
  return record as unknown as ContainerRecord;
}
