import { type Filters, InvalidArgument } from '@berth/core';
import type { NetworkRecord } from './network-record.js';

/** Docker's network filters: name, id, driver, type (custom/builtin), label; prune's label and until. */
export function matchesNetworkFilters(record: NetworkRecord, filters: Filters, prune = false): boolean {
  for (const [key, values] of Object.entries(filters)) {
    if (values.length === 0) continue;
    const ok = (test: (v: string) => boolean) => values.some(test);
    const hasLabel = (v: string) => {
      const [k, val] = v.split('=', 2) as [string, string | undefined];
      return k in record.labels && (val === undefined || record.labels[k] === val);
    };
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
        if (!ok((v) => Date.parse(record.created) < untilTime(v))) return false;
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

/** An `until` value: a Unix timestamp, an RFC 3339 date, or a duration ago (`10m`, `2h`). */
function untilTime(value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const d = /^(\d+)(s|m|h)$/.exec(value);
  if (d) return Date.now() - Number(d[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[d[2] as 's' | 'm' | 'h'];
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidArgument(`invalid until filter "${value}"`);
  return t;
}
