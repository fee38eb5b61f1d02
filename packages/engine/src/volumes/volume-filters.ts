import { type Filters, InvalidArgument } from '@berth/core';
import { matchesLabel } from '../filters/label-filter.js';
import type { VolumeRecord } from './volume-record.js';

/**
 * Docker's `volume ls` filters: `name` (a substring), `driver`, `label` (`key` or
 * `key=value`, all of them), `label!` and `dangling` (`true`/`1`: no container uses it;
 * `false`/`0`: one does). Prune takes the label filters only. `usedBy` says which
 * containers use a volume. An unknown filter or a bad `dangling` value is an
 * InvalidArgument naming it.
 */
export function matchesVolumeFilters(record: VolumeRecord, filters: Filters, usedBy: (name: string) => string[], prune = false): boolean {
  for (const [key, values] of Object.entries(filters)) {
    if (values.length === 0) continue;
    const hasLabel = (v: string) => matchesLabel(record.labels, v);
    switch (key) {
      case 'label':
        if (!values.every(hasLabel)) return false;
        break;
      case 'label!':
        if (values.some(hasLabel)) return false;
        break;
      case 'name':
        if (prune) throw new InvalidArgument(`invalid filter '${key}'`);
        if (!values.some((v) => record.name.includes(v))) return false;
        break;
      case 'driver':
        if (prune) throw new InvalidArgument(`invalid filter '${key}'`);
        if (!values.some((v) => record.driver === v)) return false;
        break;
      case 'dangling': {
        if (prune) throw new InvalidArgument(`invalid filter '${key}'`);
        const wanted = values.map(danglingValue);
        const dangling = usedBy(record.name).length === 0;
        if (!wanted.includes(dangling)) return false;
        break;
      }
      default:
        throw new InvalidArgument(`invalid filter '${key}'`);
    }
  }
  return true;
}

function danglingValue(v: string): boolean {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new InvalidArgument(`invalid filter 'dangling=${v}'`);
}
