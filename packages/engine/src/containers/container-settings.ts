import {
  type ContainerUpdate,
  type ContainerUpdateResult,
  containerUpdateFields,
  type EventBus,
  EventBusToken,
  type HostConfig,
  InvalidArgument,
  inject,
  injectable,
  type RuntimeResources,
  token,
} from '@berth/core';
import type { HostFacts } from '../oci/index.js';
import { buildResources } from '../oci/resources.js';
import { checkRestartPolicy } from '../oci/unsupported-settings.js';
import { type RunSupervisor, RunSupervisorToken } from '../runs/run-supervisor.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { type ContainerBundles, ContainerBundlesToken, HostFactsToken } from './container-bundles.js';
import { containerEventAttributes } from './container-events.js';
import { type ContainerLocks, ContainerLocksToken } from './container-locks.js';
import { validateName } from './names.js';

/** A field of `docker update` that a zero (or absent) value leaves as it is, as dockerd reads the body. */
type UpdatableLimit = Exclude<(typeof containerUpdateFields)[number], 'PidsLimit' | 'RestartPolicy'>;

/**
 * The limits `docker update` may change (core's containerUpdateFields) but the pids limit,
 * whose zero or less means "no limit", and the restart policy, which are read on their own.
 */
const updatableLimits = containerUpdateFields.filter(
  (field): field is UpdatableLimit => field !== 'PidsLimit' && field !== 'RestartPolicy',
);

/**
 * Changes to an existing container's settings: its name (`rename`) and its limits and
 * restart policy (`update`). Each change is made under the container's lock and written
 * to its record; a running container's new limits go to its cgroup through the runtime
 * first (`runc update`), so a limit the kernel refuses changes nothing, then to its
 * bundle, so the next start (a restart policy's included) runs with them.
 */
@injectable()
export class ContainerSettings {
  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ContainerLocksToken) private readonly locks: ContainerLocks,
    @inject(RunSupervisorToken) private readonly supervisor: RunSupervisor,
    @inject(HostFactsToken) private readonly host: HostFacts,
    @inject(ContainerBundlesToken) private readonly bundles: ContainerBundles,
    @inject(EventBusToken) private readonly events: EventBus,
  ) {}

  /** Docker's rename: the new name is taken and the old one freed at once, in the record and in memory. */
  async rename(ref: string, newName: string): Promise<void> {
    if (!newName) throw new InvalidArgument('Neither old nor new names may be empty');
    const name = validateName(newName);
    const record = this.store.get(ref);
    const oldName = await this.locks.run(record.id, async () => {
      const old = record.name;
      if (old === name) throw new InvalidArgument('Renaming a container with the same name as its current name');
      this.store.reserveName(name, record.id); // Conflict with Docker's message when taken
      record.name = name;
      try {
        await this.store.save(record);
      } catch (err) {
        record.name = old;
        this.store.releaseName(name, record.id);
        throw err;
      }
      this.store.releaseName(old, record.id);
      return old;
    });
    this.events.publish('container', 'rename', record.id, containerEventAttributes(record, { oldName: `/${oldName}` }));
  }

  /**
   * Docker's update: the limits given (non-zero) replace the container's, checked as at
   * create with the rest of its HostConfig; a restart policy given replaces its policy.
   */
  async update(ref: string, changes: ContainerUpdate): Promise<ContainerUpdateResult> {
    const record = this.store.get(ref);
    const policy = changes.RestartPolicy;
    const policyGiven = !!policy?.Name;
    if (policyGiven) {
      checkRestartPolicy(changes);
      if (record.hostConfig.AutoRemove && policy?.Name !== 'no') {
        throw new InvalidArgument('Restart policy cannot be updated because AutoRemove is enabled for the container');
      }
    }
    const warnings = await this.locks.run(record.id, async () => {
      const next: HostConfig = { ...record.hostConfig };
      const limits: Partial<Record<UpdatableLimit, unknown>> = {};
      for (const field of updatableLimits) {
        const value = changes[field];
        if (value !== undefined && value !== 0 && value !== '') limits[field] = value;
      }
      Object.assign(next, limits);
      // --cpus replaces a quota and period, and the other way round, so the two never conflict.
      if (limits.NanoCpus !== undefined) {
        next.CpuQuota = 0;
        next.CpuPeriod = 0;
      } else if (limits.CpuQuota !== undefined || limits.CpuPeriod !== undefined) next.NanoCpus = 0;
      const pidsGiven = changes.PidsLimit !== undefined && changes.PidsLimit !== null;
      if (pidsGiven) next.PidsLimit = Math.max(changes.PidsLimit!, 0);
      if (policyGiven) next.RestartPolicy = { Name: policy!.Name, MaximumRetryCount: policy!.MaximumRetryCount ?? 0 };
      const built = buildResources(next, this.host);
      const limitsGiven = Object.keys(limits).length > 0 || pidsGiven;
      if (record.state.Running && limitsGiven) {
        const resources: RuntimeResources = {};
        if (built.resources.memory) {
          const { limit, reservation, swap } = built.resources.memory;
          resources.memory = { limit, reservation, swap };
        }
        if (built.resources.cpu) {
          const { shares, quota, period, cpus } = built.resources.cpu;
          // A quota removed is -1 to the runtime ("no limit"), not "unchanged".
          resources.cpu = { shares, quota: quota ?? -1, period, cpus };
        } else if (limits.NanoCpus !== undefined || limits.CpuQuota !== undefined) resources.cpu = { quota: -1 };
        if (pidsGiven) resources.pids = { limit: built.resources.pids?.limit ?? -1 };
        await this.supervisor.update(record, resources);
      }
      if (limitsGiven) {
        const { memory, cpu, pids } = built.resources;
        await this.bundles.updateResources(record.id, { memory, cpu, pids });
      }
      record.hostConfig = next;
      await this.store.save(record);
      return built.warnings;
    });
    this.events.publish('container', 'update', record.id, containerEventAttributes(record));
    return { Warnings: warnings.length ? warnings : null };
  }
}

export const ContainerSettingsToken = token<ContainerSettings>('ContainerSettings');
