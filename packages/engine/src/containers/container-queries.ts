import { type ContainerInspect, type ContainerListOptions, type ContainerSummary, inject, injectable, token } from '@berth/core';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { type ContainerPaths, ContainerPathsToken } from './container-paths.js';
import { toInspect, toSummary } from './container-views.js';
import { checkFilterKeys, matchesFilters } from './filters.js';

/** Read-only questions about containers: `docker ps` (with Docker's filters) and `inspect`, from the records. */
@injectable()
export class ContainerQueries {
  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ContainerPathsToken) private readonly paths: ContainerPaths,
  ) {}

  async list(options: ContainerListOptions = {}): Promise<ContainerSummary[]> {
    const filters = options.filters ?? {};
    checkFilterKeys(filters);
    // Like docker: a status filter widens `ps` to stopped containers even without -a.
    const everyState = options.all || !!filters.status;
    let records = this.store.all().filter((r) => (everyState || r.state.Running) && matchesFilters(r, filters, this.store));
    records.sort((a, b) => b.created.localeCompare(a.created));
    if (options.limit && options.limit > 0) records = records.slice(0, options.limit);
    return records.map((r) => toSummary(r));
  }

  async inspect(ref: string): Promise<ContainerInspect> {
    const record = this.store.get(ref);
    return toInspect(record, { logPath: this.paths.log(record.id), dir: this.paths.dir(record.id), rootfs: this.paths.rootfs(record.id) });
  }
}

export const ContainerQueriesToken = token<ContainerQueries>('ContainerQueries');
