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
import { matchesLabel } from '../filters/label-filter.js';
import { untilMs } from '../filters/until-filter.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { type ContainerLifecycle, ContainerLifecycleToken } from './container-lifecycle.js';

const pruneFilterKeys = new Set(['until', 'label', 'label!']);

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
      if (!(filters.label ?? []).every((l) => matchesLabel(r.config.Labels, l))) return false;
      return !(filters['label!'] ?? []).some((l) => matchesLabel(r.config.Labels, l));
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
