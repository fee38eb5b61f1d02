import {
  type AttachOptions,
  type AttachSession,
  type ContainerCreateBody,
  type ContainerInspect,
  type ContainerListOptions,
  type ContainerSummary,
  type ContainersApi,
  inject,
  injectable,
  type LogLine,
  type LogsOptions,
  type RemoveContainerOptions,
  token,
  type WaitCondition,
  type WaitResult,
} from '@berth/core';
import { type ContainerIo, ContainerIoToken } from '../io/container-io.js';
import { type ContainerCreator, ContainerCreatorToken } from './container-creator.js';
import { type ContainerLifecycle, ContainerLifecycleToken } from './container-lifecycle.js';
import { type ContainerQueries, ContainerQueriesToken } from './container-queries.js';

/**
 * The containers the API serves (`ContainersApi`), put together from the services that
 * own each concern: create (ContainerCreator), the lifecycle state machine
 * (ContainerLifecycle), the queries (ContainerQueries), and I/O — attach, logs, wait
 * (ContainerIo). It adds no behaviour of its own.
 */
@injectable()
export class ContainerService implements ContainersApi {
  constructor(
    @inject(ContainerCreatorToken) private readonly creator: ContainerCreator,
    @inject(ContainerLifecycleToken) private readonly lifecycle: ContainerLifecycle,
    @inject(ContainerQueriesToken) private readonly queries: ContainerQueries,
    @inject(ContainerIoToken) private readonly io: ContainerIo,
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

  resize(ref: string, height: number, width: number): Promise<void> {
    return this.io.resize(ref, height, width);
  }
}

/** The containers the API serves. */
export const ContainerServiceToken = token<ContainersApi>('ContainerService');
