import {
  type ContainersPruneReport,
  type EventBus,
  EventBusToken,
  type Filters,
  InvalidArgument,
  inject,
  injectable,
  isBerthError,
  type StorageDriver,
  StorageDriverToken,
  token,
} from '@berth/core';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { type ContainerLifecycle, ContainerLifecycleToken } from './container-lifecycle.js';
import type { ContainerRecord } from './container-record.js';

const pruneFilterKeys = new Set(['until', 'label', 'label!']);

/** Go's durations as `--filter until=` takes them: `10m`, `1h30m`, `1.5h`, `300ms`. */
const durationUnits: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `until`'s value (a unix time, an RFC 3339 time, or a duration before now) as epoch milliseconds. */
export function untilMs(value: string, now = Date.now()): number {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) {
    let ms = 0;
    for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * durationUnits[m[2]!]!;
    return now - ms;
  }
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) throw new InvalidArgument(`failed to parse value as time or duration: "${value}"`);
  return parsed;
}

function labelMatches(record: ContainerRecord, spec: string): boolean {
  const labels = record.config.Labels ?? {};
  const eq = spec.indexOf('=');
  return eq < 0 ? spec in labels : labels[spec.slice(0, eq)] === spec.slice(eq + 1);
}

/**
 * `docker container prune`: removes every container that does not run (created, exited;
 * not paused nor restarting) and matches the filters — `until` (created before), `label`
 * (all given must match), `label!` (none may) — through the lifecycle's removal, and
 * reports what went and the space their writable layers held. Publishes `prune`.
 */
@injectable()
export class ContainerPrune {
  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ContainerLifecycleToken) private readonly lifecycle: ContainerLifecycle,
    @inject(StorageDriverToken) private readonly storage: StorageDriver,
    @inject(EventBusToken) private readonly events: EventBus,
  ) {}

  async prune(filters: Filters = {}): Promise<ContainersPruneReport> {
    for (const key of Object.keys(filters)) if (!pruneFilterKeys.has(key)) throw new InvalidArgument(`Invalid filter '${key}'`);
    const until = (filters.until ?? []).map((v) => untilMs(v));
    const candidates = this.store.all().filter((r) => {
      if (r.state.Running || r.state.Restarting || r.state.Paused) return false;
      const created = Date.parse(r.created);
      if (until.some((u) => created >= u)) return false;
      if (!(filters.label ?? []).every((l) => labelMatches(r, l))) return false;
      return !(filters['label!'] ?? []).some((l) => labelMatches(r, l));
    });
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const record of candidates) {
      const size = await this.storage.usage(record.id).then(
        (u) => u.bytes,
        () => 0,
      );
      try {
        await this.lifecycle.remove(record.id, {});
      } catch (err) {
        // Started or removed meanwhile: not this prune's to report.
        if (isBerthError(err, 'Conflict') || isBerthError(err, 'NotFound')) continue;
        throw err;
      }
      deleted.push(record.id);
      reclaimed += size;
    }
    this.events.publish('container', 'prune', '', { reclaimed: String(reclaimed) });
    return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }
}

export const ContainerPruneToken = token<ContainerPrune>('ContainerPrune');
