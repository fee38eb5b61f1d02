import { type Filters, InvalidArgument } from '@berth/core';
import { matchesLabel } from '../filters/label-filter.js';
import type { ContainerStore } from '../state/container-store.js';
import type { ContainerRecord } from './container-record.js';

/**
 * Docker's `ps --filter` semantics: values of one key are alternatives (OR), but every
 * `label` value must match (dockerd's MatchKVList: docker-compose v1 lists a project's
 * containers with `label=project=x` and `label=oneoff=False` and reads the answer as
 * both); keys combine with AND. Supported keys: id, name, status, label, ancestor, exited, before,
 * since, health, volume (a volume's name or a mount's destination); any other key is refused, as dockerd does.
 */
const knownKeys = new Set(['id', 'name', 'status', 'exited', 'label', 'ancestor', 'before', 'since', 'health', 'volume']);

/** `health=`'s values: a health status, or `none` for a container without health (dockerd's set). */
const healthValues = new Set(['starting', 'healthy', 'unhealthy', 'none']);

/** Refuse an unknown filter key, or a health value dockerd does not know, before listing anything, as dockerd does. */
export function checkFilterKeys(filters: Filters): void {
  for (const key of Object.keys(filters)) if (!knownKeys.has(key)) throw new InvalidArgument(`invalid filter '${key}'`);
  for (const value of filters.health ?? []) {
    if (!healthValues.has(value)) throw new InvalidArgument(`Unrecognised filter value for health: ${value}`);
  }
}

export function matchesFilters(record: ContainerRecord, filters: Filters, store: ContainerStore): boolean {
  for (const [key, values] of Object.entries(filters)) {
    if (!values.length) continue;
    const matches = (v: string) => matchOne(record, key, v, store);
    if (key === 'label' ? !values.every(matches) : !values.some(matches)) return false;
  }
  return true;
}

function matchOne(record: ContainerRecord, key: string, value: string, store: ContainerStore): boolean {
  switch (key) {
    case 'id':
      return record.id.startsWith(value);
    case 'name':
      // Docker matches names as a regular expression over "/name".
      try {
        return new RegExp(value).test(`/${record.name}`);
      } catch {
        return record.name.includes(value);
      }
    case 'status':
      return record.state.Status === value;
    case 'health':
      // The recorded health (kept after the container stops, as dockerd keeps it); `none` without one.
      return (record.state.Health?.Status ?? 'none') === value;
    case 'exited':
      return record.state.Status === 'exited' && String(record.state.ExitCode) === value;
    case 'label':
      return matchesLabel(record.config.Labels, value);
    case 'ancestor':
      return (
        record.imageRef === value ||
        record.imageId === value ||
        record.imageId.startsWith(`sha256:${value}`) ||
        record.imageRef === `${value}:latest`
      );
    case 'before':
    case 'since': {
      const other = store.find(value);
      if (!other) return false;
      return key === 'before' ? record.created < other.created : record.created > other.created;
    }
    case 'volume':
      return (record.volumes ?? []).some((v) => v.name === value || v.destination === value) || bindDestinations(record).includes(value);
    default:
      return true; // checkFilterKeys refused unknown keys before any matching
  }
}

/** The container paths of a record's `-v` entries (`/host:/ctr[:opts]` → `/ctr`). */
function bindDestinations(record: ContainerRecord): string[] {
  return (record.hostConfig.Binds ?? []).map((b) => {
    const parts = b.split(':');
    return parts.length >= 2 && parts[1]!.startsWith('/') ? parts[1]! : parts[0]!;
  });
}
