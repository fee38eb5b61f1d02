import {
  type EventBus,
  EventBusToken,
  type ExitStatus,
  inject,
  injectable,
  type Logger,
  LoggerToken,
  type RuntimeResources,
  token,
} from '@berth/core';
import { containerEventAttributes } from '../containers/container-events.js';
import { type ContainerLocks, ContainerLocksToken } from '../containers/container-locks.js';
import type { ContainerRecord } from '../containers/container-record.js';
import { type ContainerIo, ContainerIoToken } from '../io/container-io.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { type RunResources, RunResourcesToken } from './run-resources.js';
import { elapsed } from './timing.js';

/**
 * Called after a run's exit is recorded (the lock released): where auto-remove and,
 * later, restart policies act. `removing` is the exit policy's answer for this exit: the
 * container goes now, so its exit was not written and its run's kernel state was left
 * for the removal to give back.
 */
export type ExitListener = (record: ContainerRecord, status: ExitStatus, removing: boolean) => Promise<void> | void;

/** Whether a container is removed when its run exits; the lifecycle sets it (--rm, except while a restart stops it). */
export type RemoveOnExit = (record: ContainerRecord) => boolean;

/**
 * The run supervisor: watches every run from its launch to the recording of its exit.
 * When a run exits it records the exit under the container's lock (the last output
 * drained, the run's kernel state released, the exited state written), publishes `die`,
 * answers waiters, then tells its exit listeners. At engine start `recover` re-adopts the
 * runs a previous engine left and records the exits it missed. Once closed it ignores
 * exits: the containers outlive this engine, and their exits are the next one's business.
 */
@injectable()
export class RunSupervisor {
  private closed = false;
  private readonly exitListeners: ExitListener[] = [];
  private removeOnExit: RemoveOnExit = (record) => !!record.hostConfig.AutoRemove;

  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ContainerLocksToken) private readonly locks: ContainerLocks,
    @inject(RunResourcesToken) private readonly resources: RunResources,
    @inject(ContainerIoToken) private readonly io: ContainerIo,
    @inject(EventBusToken) private readonly events: EventBus,
    @inject(LoggerToken) private readonly log: Logger,
  ) {}

  /** Decide, at each exit, whether the container is about to be removed. */
  setRemoveOnExit(policy: RemoveOnExit): void {
    this.removeOnExit = policy;
  }

  /** Listen to every recorded exit from now on. */
  onExit(listener: ExitListener): void {
    this.exitListeners.push(listener);
  }

  /** Launch a run of `record` (the caller holds its lock) and watch it until it exits. */
  async launch(record: ContainerRecord): Promise<{ pid: number; phases: Record<string, number> }> {
    const launched = await this.resources.launch(record);
    this.watch(record);
    return launched;
  }

  /** Send a signal to a run's process through its runtime. */
  signal(record: ContainerRecord, signal: string): Promise<void> {
    return this.resources.signal(record, signal);
  }

  /** Freeze, thaw, or change the limits of a run (see RunResources); the caller holds the container's lock. */
  pause(record: ContainerRecord): Promise<void> {
    return this.resources.pause(record);
  }

  resume(record: ContainerRecord): Promise<void> {
    return this.resources.resume(record);
  }

  update(record: ContainerRecord, resources: RuntimeResources): Promise<void> {
    return this.resources.update(record, resources);
  }

  /** Resolves when the container's current run has ended and its exit is recorded (at once when it is not running). */
  runEnd(record: ContainerRecord): Promise<void> {
    return this.io.runEnd(record);
  }

  /** Give back what a run held in the kernel (see RunResources.release). */
  release(record: ContainerRecord, options: { keepRootfs?: boolean; endpointsLater?: boolean } = {}): Promise<void> {
    return this.resources.release(record, options);
  }

  /** The container is removed: answer `removed` waiters and forget its channels. */
  removed(record: ContainerRecord): void {
    this.io.removed(record.id, record.state.ExitCode);
  }

  private watch(record: ContainerRecord): void {
    this.resources.wait(record).then(
      (status) => (this.closed ? undefined : this.exited(record, status)),
      (err) => {
        if (this.closed) return;
        this.log.error('lost track of a container', { id: record.id, error: String(err) });
        return this.exited(record, { exitCode: 255, oomKilled: false, finishedAt: new Date().toISOString() });
      },
    );
  }

  /**
   * Record an exit under the container's lock: let the output arrive, release the run's
   * kernel state (an --rm container's goes with its removal, side by side with its layer
   * and record), write the exited state (not for --rm: its record is about to go).
   */
  private async exited(record: ContainerRecord, status: ExitStatus): Promise<void> {
    let autoRemove = false;
    const recorded = await this.locks.run(record.id, async () => {
      if (this.store.find(record.id) !== record || !record.state.Running) return false; // removed meanwhile
      const began = performance.now();
      await this.io.drainRun(record.id, 2000);
      autoRemove = this.removeOnExit(record);
      if (!autoRemove) await this.resources.release(record);
      this.log.debug('container exited', { id: record.id, exitCode: status.exitCode, releaseMs: elapsed(began) });
      record.state = {
        ...record.state,
        Status: 'exited',
        Running: false,
        Paused: false,
        Pid: 0,
        ExitCode: status.exitCode,
        OOMKilled: status.oomKilled,
        FinishedAt: status.finishedAt,
      };
      delete record.pending;
      if (!autoRemove) await this.saveExit(record);
      return true;
    });
    if (!recorded) return;
    if (status.oomKilled) this.events.publish('container', 'oom', record.id, containerEventAttributes(record));
    this.events.publish('container', 'die', record.id, containerEventAttributes(record, { exitCode: String(status.exitCode) }));
    this.io.runEnded(record.id, status.exitCode);
    for (const listener of this.exitListeners) {
      try {
        await listener(record, status, autoRemove);
      } catch (err) {
        this.log.error('exit listener failed', { id: record.id, error: String(err) });
      }
    }
  }

  /** Write an exit to the record; a failure is logged (the container stays as it is in memory). */
  saveExit(record: ContainerRecord): Promise<void> {
    return this.store.save(record).catch((err) => this.log.error('cannot record an exit', { id: record.id, error: String(err) }));
  }

  /**
   * After an engine start: re-adopt every container the records say is running. One whose
   * shim is gone is recorded as exited with the status its shim left behind (255 when
   * there is none).
   */
  async recover(): Promise<void> {
    // A start writes its record ahead while the runtime creates the container, side by
    // side: a crash before that write was durable leaves a run whose record does not say
    // so. Such runs are found by their runtime state and taken like pending starts.
    for (const record of await this.resources.runsNotRecorded()) {
      this.log.warn('found a run its record does not know of: a start the daemon died in', { id: record.id });
      record.pending = { op: 'start', prior: record.state };
      record.state = { ...record.state, Status: 'running', Running: true, Pid: 0, StartedAt: new Date().toISOString() };
    }
    for (const record of this.store.all()) {
      if (!record.state.Running) continue;
      try {
        const found = await this.resources.adopt(record);
        if (!found) {
          this.log.error('runtime of a running container is gone', { id: record.id, runtime: record.runtime });
        } else if (found.state === 'running') {
          record.state = { ...record.state, Pid: found.pid };
          delete record.pending;
          this.watch(record);
        } else if (found.state === 'created') {
          await this.undoStart(record);
        } else {
          await this.exited(record, found.status);
        }
      } catch (err) {
        this.log.error('cannot re-adopt a container', { id: record.id, error: String(err) });
        await this.exited(record, { exitCode: 255, oomKilled: false, finishedAt: new Date().toISOString() });
      }
    }
    await this.unmountStoppedRootfs();
  }

  /**
   * A start cut before its record was written ahead (it had mounted the root filesystem,
   * nothing more) leaves an exited container's rootfs mounted, which its exit would have
   * unmounted: unmount it, as the exit would have.
   */
  private async unmountStoppedRootfs(): Promise<void> {
    for (const record of this.store.all()) {
      if (record.state.Running || record.state.Status !== 'exited') continue;
      try {
        await this.resources.unmountIdleRootfs(record);
      } catch (err) {
        this.log.error('cannot unmount the root filesystem of a stopped container', { id: record.id, error: String(err) });
      }
    }
  }

  /**
   * A start the last engine died in, whose process never ran: undo the run, and put the
   * record back as it was before the start, saying why (an --rm container then goes with
   * the other stopped --rm containers).
   */
  private async undoStart(record: ContainerRecord): Promise<void> {
    this.log.warn('undoing a start the daemon stopped in: the container never ran', { id: record.id });
    await this.locks.run(record.id, async () => {
      await this.resources.discardUnstarted(record);
      const prior = record.pending?.prior ?? { ...record.state, Status: 'created', StartedAt: '0001-01-01T00:00:00Z' };
      record.state = {
        ...prior,
        Running: false,
        Paused: false,
        Pid: 0,
        Error: 'the daemon stopped while starting this container: it never ran',
      };
      delete record.pending;
      await this.saveExit(record);
    });
  }

  /** Stop acting on exits and let go of the runs' streams; the containers keep running. */
  close(): void {
    this.closed = true;
    this.io.close();
  }
}

export const RunSupervisorToken = token<RunSupervisor>('RunSupervisor');
