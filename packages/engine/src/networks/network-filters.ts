import { type Filters, InvalidArgument } from '@berth/core';
import { matchesLabel } from '../filters/label-filter.js';
import { untilMs } from '../filters/until-filter.js';
import type { NetworkRecord } from './network-record.js';

/** Docker's network filters: name, id, driver, type (custom/builtin), label; prune's label and until. */
export function matchesNetworkFilters(record: NetworkRecord, filters: Filters, prune = false): boolean {
  for (const [key, values] of Object.entries(filters)) {
    if (values.length === 0) continue;
    const ok = (test: (v: string) => boolean) => values.some(test);
    const hasLabel = (v: string) => matchesLabel(record.labels, v);
    switch (key) {
      case 'name':
        if (!ok((v) => record.name.includes(v))) return false;
        break;
      case 'id':
        if (!ok((v) => record.id.startsWith(v))) return false;
        break;
      case 'driver':
        if (!ok((v) => record.driver === v)) return false;
        break;
      case 'type':
        if (!ok((v) => (v === 'builtin' ? record.predefined : v === 'custom' ? !record.predefined : false))) return false;
        break;
      case 'scope':
        if (!ok((v) => v === 'local')) return false;
        break;
      case 'label':
        if (!values.every(hasLabel)) return false;
        break;
      case 'label!':
        if (values.some(hasLabel)) return false;
        break;
      case 'until':
        if (!prune) throw new InvalidArgument("invalid filter 'until'");
        if (!ok((v) => Date.parse(record.created) < untilMs(v))) return false;
        break;
      case 'dangling':
        if (prune) throw new InvalidArgument("invalid filter 'dangling'");
        break;
      default:
        throw new InvalidArgument(`invalid filter '${key}'`);
    }
  }
  return true;
}
