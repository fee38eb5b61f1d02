import {
  type ContainerInspect,
  type ContainerListOptions,
  type ContainerSummary,
  inject,
  injectable,
  type StorageDriver,
  StorageDriverToken,
  token,
} from '@berth/core';
import { type ExecService, ExecServiceToken } from '../exec/exec-service.js';
import { type HealthMonitor, HealthMonitorToken } from '../health/health-monitor.js';
import { healthSuffix } from '../health/health-rules.js';
import { type ImageQueries, ImageQueriesToken } from '../images/image-queries.js';
import { type NetworkService, NetworkServiceToken } from '../networks/network-service.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { type ContainerPaths, ContainerPathsToken } from './container-paths.js';
import type { ContainerRecord } from './container-record.js';
import { type ContainerNetworkView, toInspect, toSummary } from './container-views.js';
import { checkFilterKeys, matchesFilters } from './filters.js';
import { containerModePrefix, isContainerMode } from './network-attachments.js';

/** Read-only questions about containers: `docker ps` (with Docker's filters) and `inspect`, from the records. */
@injectable()
export class ContainerQueries {
  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ContainerPathsToken) private readonly paths: ContainerPaths,
    @inject(StorageDriverToken) private readonly storage: StorageDriver,
    @inject(ImageQueriesToken) private readonly images: ImageQueries,
    @inject(HealthMonitorToken) private readonly health: HealthMonitor,
    @inject(ExecServiceToken) private readonly execs: ExecService,
    @inject(NetworkServiceToken) private readonly networks: NetworkService,
  ) {}

  /**
   * The container's networks for the views, in its order: each attachment with its
   * network (when it still exists) and its endpoint (while it runs), then any endpoint no
   * attachment names (a connect or disconnect under way). A `container:<id>` container
   * has none, as in dockerd; one whose every network was disconnected, none either.
   */
  private networkViews(record: ContainerRecord): ContainerNetworkView[] {
    const attached = this.networks.endpointsOf(record.id);
    const views: ContainerNetworkView[] = [];
    for (const attachment of record.networks) {
      const network = this.networks.findMode(attachment.network);
      if (network && views.some((v) => v.network?.id === network.id)) continue;
      const endpoint = network ? attached.find((a) => a.network.id === network.id)?.endpoint : undefined;
      const name = network?.name ?? (attachment.network === 'default' ? 'none' : attachment.network);
      views.push({ name, network, endpoint });
    }
    for (const { network, endpoint } of attached) {
      if (!views.some((v) => v.network?.id === network.id)) views.push({ name: network.name, network, endpoint });
    }
    return views;
  }

  async list(options: ContainerListOptions = {}): Promise<ContainerSummary[]> {
    const filters = options.filters ?? {};
    checkFilterKeys(filters);
    // Like docker: a status filter widens `ps` to stopped containers even without -a.
    const everyState = options.all || !!filters.status;
    // A restarting container counts as running, as in dockerd.
    let records = this.store
      .all()
      .filter((r) => (everyState || r.state.Running || r.state.Restarting) && matchesFilters(r, filters, this.store));
    records.sort((a, b) => b.created.localeCompare(a.created));
    if (options.limit && options.limit > 0) records = records.slice(0, options.limit);
    const summaries = records.map((r) => {
      const summary = toSummary(r, this.networkViews(r));
      // `Up 3 seconds (healthy)`: a running container's health, as docker ps shows it.
      if (r.state.Status === 'running') summary.Status += healthSuffix(this.health.of(r.id));
      return summary;
    });
    if (options.size) await Promise.all(summaries.map((s, i) => this.addSizes(s, records[i]!)));
    return summaries;
  }

  /** `ps --size`: the writable layer's usage (the storage driver's), and that plus the image's size. */
  private async addSizes(summary: ContainerSummary, record: { id: string; imageId: string }): Promise<void> {
    const [rw, image] = await Promise.all([
      this.storage.usage(record.id).then(
        (u) => u.bytes,
        () => 0,
      ),
      this.images.inspect(record.imageId).then(
        (i) => i.Size,
        () => 0,
      ),
    ]);
    summary.SizeRw = rw;
    summary.SizeRootFs = rw + image;
  }

  async inspect(ref: string): Promise<ContainerInspect> {
    const record = this.store.get(ref);
    const inspect = toInspect(
      record,
      {
        logPath: this.paths.log(record.id),
        dir: this.paths.dir(record.id),
        // A container in another's network namespace uses that one's /etc files, as inspect shows in dockerd.
        etcDir: this.paths.dir(isContainerMode(record.networkMode) ? record.networkMode.slice(containerModePrefix.length) : record.id),
        rootfs: this.paths.rootfs(record.id),
      },
      this.networkViews(record),
    );
    inspect.ExecIDs = this.execs.idsOf(record.id);
    return inspect;
  }
}

export const ContainerQueriesToken = token<ContainerQueries>('ContainerQueries');
