import {
  type AttachOptions,
  type AttachSession,
  type ContainerCreateBody,
  type ContainerInspect,
  type ContainerListOptions,
  type ContainerStatsSample,
  type ContainerSummary,
  type ContainersApi,
  type ContainersPruneReport,
  type ContainerTop,
  type ContainerUpdate,
  type ContainerUpdateResult,
  type Filters,
  inject,
  injectable,
  type LogLine,
  type LogsOptions,
  type RemoveContainerOptions,
  type StatsOptions,
  token,
  type WaitCondition,
  type WaitResult,
} from '@berth/core';
import { type ContainerIo, ContainerIoToken } from '../io/container-io.js';
import { type ContainerMonitor, ContainerMonitorToken } from '../stats/container-monitor.js';
import { type ContainerCreator, ContainerCreatorToken } from './container-creator.js';
import { type ContainerLifecycle, ContainerLifecycleToken } from './container-lifecycle.js';
import { type ContainerPrune, ContainerPruneToken } from './container-prune.js';
import { type ContainerQueries, ContainerQueriesToken } from './container-queries.js';
import { type ContainerSettings, ContainerSettingsToken } from './container-settings.js';

/**
 * The containers the API serves (`ContainersApi`), put together from the services that
 * own each concern: create (ContainerCreator), the lifecycle state machine
 * (ContainerLifecycle: pause and unpause too), the queries (ContainerQueries), I/O —
 * attach, logs, wait (ContainerIo) —, changes of settings — rename, update
 * (ContainerSettings) —, stats and top (ContainerMonitor), and prune (ContainerPrune).
 * It adds no behaviour of its own.
 */
@injectable()
export class ContainerService implements ContainersApi {
  constructor(
    @inject(ContainerCreatorToken) private readonly creator: ContainerCreator,
    @inject(ContainerLifecycleToken) private readonly lifecycle: ContainerLifecycle,
    @inject(ContainerQueriesToken) private readonly queries: ContainerQueries,
    @inject(ContainerIoToken) private readonly io: ContainerIo,
    @inject(ContainerSettingsToken) private readonly settings: ContainerSettings,
    @inject(ContainerMonitorToken) private readonly monitor: ContainerMonitor,
    @inject(ContainerPruneToken) private readonly pruner: ContainerPrune,
  ) {}

  create(body: ContainerCreateBody, name?: string): Promise<{ Id: string; Warnings: string[] }> {
    return this.creator.create(body, name);
  }

  start(ref: string): Promise<void> {
    return this.lifecycle.start(ref);
  }

  stop(ref: string, timeoutSeconds?: number): Promise<void> {
    return this.lifecycle.stop(ref, timeoutSeconds);
  }

  kill(ref: string, signal?: string): Promise<void> {
    return this.lifecycle.kill(ref, signal);
  }

  restart(ref: string, timeoutSeconds?: number): Promise<void> {
    return this.lifecycle.restart(ref, timeoutSeconds);
  }

  remove(ref: string, options?: RemoveContainerOptions): Promise<void> {
    return this.lifecycle.remove(ref, options);
  }

  list(options?: ContainerListOptions): Promise<ContainerSummary[]> {
    return this.queries.list(options);
  }

  inspect(ref: string): Promise<ContainerInspect> {
    return this.queries.inspect(ref);
  }

  wait(ref: string, condition?: WaitCondition): Promise<WaitResult> {
    return this.io.wait(ref, condition);
  }

  logs(ref: string, options: LogsOptions): Promise<{ tty: boolean; lines: AsyncIterable<LogLine> }> {
    return this.io.logs(ref, options);
  }

  attach(ref: string, options: AttachOptions): Promise<AttachSession> {
    return this.io.attach(ref, options);
  }

  pause(ref: string): Promise<void> {
    return this.lifecycle.pause(ref);
  }

  unpause(ref: string): Promise<void> {
    return this.lifecycle.unpause(ref);
  }

  rename(ref: string, newName: string): Promise<void> {
    return this.settings.rename(ref, newName);
  }

  update(ref: string, changes: ContainerUpdate): Promise<ContainerUpdateResult> {
    return this.settings.update(ref, changes);
  }

  top(ref: string, psArgs?: string): Promise<ContainerTop> {
    return this.monitor.top(ref, psArgs);
  }

  stats(ref: string, options: StatsOptions): AsyncIterable<ContainerStatsSample> {
    return this.monitor.stats(ref, options);
  }

  prune(filters?: Filters): Promise<ContainersPruneReport> {
    return this.pruner.prune(filters);
  }

  resize(ref: string, height: number, width: number): Promise<void> {
    return this.io.resize(ref, height, width);
  }
}

/** The containers the API serves. */
export const ContainerServiceToken = token<ContainersApi>('ContainerService');
