import { constants as osConstants } from 'node:os';
import {
  Conflict,
  type ContainerState,
  type EventBus,
  EventBusToken,
  inject,
  injectable,
  isBerthError,
  type Logger,
  LoggerToken,
  NotModified,
  type RemoveContainerOptions,
  token,
} from '@berth/core';
import { type RootFilesystems, RootFilesystemsToken } from '../rootfs/root-filesystems.js';
import { type RunSupervisor, RunSupervisorToken } from '../runs/run-supervisor.js';
import { elapsed } from '../runs/timing.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { containerEventAttributes } from './container-events.js';
import { type ContainerLocks, ContainerLocksToken } from './container-locks.js';
import type { ContainerRecord } from './container-record.js';
import { type ContainerVolumes, ContainerVolumesToken } from './container-volumes.js';
import { normaliseSignal } from './signals.js';

/** How a start came about: asked for (the API, `docker restart`), or a restart policy's. */
export interface StartOptions {
  /**
   * A restart policy starts the container (RestartPolicies): it must still be waiting
   * to restart (a stop or removal meanwhile cancels it), and its RestartCount and
   * "stopped by hand" are kept; any other start resets both, as Docker's does.
   */
  policy?: boolean;
}

/**
 * The container lifecycle state machine: created → running (⇄ paused) → exited
 * (→ restarting → running again) → removed. Every operation takes the container's lock while it decides and changes
 * state (the supervisor records exits under the same lock); waiting for a process to
 * exit happens outside it. Kernel state exists only while a container runs (the
 * supervisor's business) plus its root filesystem mount from create until exit, so a
 * created or exited container holds nothing but files under the data root and its snapshot.
 * Auto-remove (`--rm`) is an exit listener of the supervisor.
 */
@injectable()
export class ContainerLifecycle {
  /** Containers a removal has begun on: they cannot be started again (Docker's "marked for removal"). */
  private readonly removing = new Set<string>();
  /** Containers a restart is stopping: their exit is not the end of an --rm container. */
  private readonly restarting = new Set<string>();

  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ContainerLocksToken) private readonly locks: ContainerLocks,
    @inject(RunSupervisorToken) private readonly supervisor: RunSupervisor,
    @inject(RootFilesystemsToken) private readonly rootfs: RootFilesystems,
    @inject(EventBusToken) private readonly events: EventBus,
    @inject(LoggerToken) private readonly log: Logger,
    @inject(ContainerVolumesToken) private readonly volumes: ContainerVolumes,
  ) {
    supervisor.setRemoveOnExit((record) => !!record.hostConfig.AutoRemove && !this.restarting.has(record.id));
    supervisor.onExit(async (record, _status, removing) => {
      if (!removing) return;
      await this.remove(record.id, { force: true, volumes: true }).catch(async (err) => {
        this.log.error('auto-remove failed', { id: record.id, error: String(err) });
        if (this.store.find(record.id)) await this.supervisor.saveExit(record);
      });
    });
    rootfs.onLost((id, message, atStart) => this.rootfsLost(id, message, atStart));
  }

  /**
   * A container's root filesystem died under it (the helper serving its FUSE rootfs
   * exited; its processes see I/O errors, a program's pages SIGBUS): it cannot go on. Its
   * State.Error says why (kept by the exit, which may have come first: a process killed
   * by SIGBUS), a `rootfs_lost` event carries the same, and a running container is killed,
   * its exit then recorded as any other (a restart policy may start it again, on a new
   * mount). A created container's next start mounts again. A death found at engine start
   * is told only of a container still running then: one recovery found exited had its
   * helper stopped by an exit the last engine did not finish recording.
   */
  private async rootfsLost(id: string, message: string, atStart: boolean): Promise<void> {
    const record = this.store.find(id);
    if (!record) return;
    await this.locks.run(id, async () => {
      if (this.store.find(id) !== record || (atStart && !record.state.Running)) return;
      record.state = { ...record.state, Error: message };
      this.events.publish('container', 'rootfs_lost', id, containerEventAttributes(record, { error: message }));
      await this.store.save(record);
      if (!record.state.Running) return;
      await this.signal(record, 'SIGKILL').catch((err) =>
        this.log.error('cannot kill a container whose root filesystem is lost', { id, error: String(err) }),
      );
    });
  }

  /**
   * At engine start, after recovery: --rm containers that are not running go, as dockerd
   * removes them at restore (created and never started, stopped while the daemon was down,
   * or a start the daemon died in).
   */
  async removeStoppedAutoRemove(): Promise<void> {
    for (const record of this.store.all()) {
      if (!record.hostConfig.AutoRemove || record.state.Running) continue;
      await this.remove(record.id, { force: true, volumes: true }).catch((err) =>
        this.log.error('cannot remove a stopped --rm container', { id: record.id, error: String(err) }),
      );
    }
  }

  async start(ref: string, options: StartOptions = {}): Promise<void> {
    const record = this.store.get(ref);
    try {
      await this.locks.run(record.id, () => this.startLocked(record, options));
    } catch (err) {
      // Like dockerd: a --rm container that cannot start is removed, not left behind.
      if (record.hostConfig.AutoRemove && !isBerthError(err, 'NotModified')) {
        await this.remove(record.id, { force: true, volumes: true }).catch(() => undefined);
      }
      throw err;
    }
  }

  private async startLocked(record: ContainerRecord, options: StartOptions): Promise<void> {
    if (!this.store.find(record.id)) throw new Conflict(`container ${record.id} was removed`);
    if (options.policy && (!record.state.Restarting || record.manuallyStopped)) {
      throw new NotModified(`the restart of container ${record.id} was cancelled`);
    }
    if (record.state.Paused) throw new Conflict('cannot start a paused container, try unpause instead');
    if (record.state.Running) throw new NotModified(`container ${record.id} is already running`);
    if (this.removing.has(record.id)) throw new Conflict(`container ${record.id} is marked for removal and cannot be started`);
    const began = performance.now();
    const startedAt = new Date().toISOString();
    const running = (pid: number): ContainerState => ({
      ...record.state,
      Status: 'running',
      Running: true,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: pid,
      ExitCode: 0,
      Error: '',
      StartedAt: startedAt,
      FinishedAt: '0001-01-01T00:00:00Z',
    });
    if (!options.policy) {
      record.restartCount = 0;
      delete record.manuallyStopped;
    }
    // The record says "running", with the start pending and the state before it, on disk
    // before the runtime is asked: written (fsynced, ~3 ms) while runc creates the container
    // (~30 ms), not after it on the path of every start. A daemon that dies in between
    // finds it at its next start, and the supervisor's recovery asks the runtime: running
    // (adopted), exited (recorded), created but never started (undone, back to the prior
    // state), or no shim at all (recorded as an exit, 255).
    const ahead = this.store.persist({ ...record, state: running(0), pending: { op: 'start', prior: record.state } });
    ahead.catch(() => undefined); // awaited below, on every path
    try {
      const { pid, phases } = await this.supervisor.launch(record);
      await ahead;
      record.state = running(pid);
      this.log.debug('container started', { id: record.id, ...phases, ms: elapsed(began) });
      this.events.publish('container', 'start', record.id, containerEventAttributes(record));
    } catch (err) {
      record.state = { ...record.state, Error: err instanceof Error ? err.message : String(err) };
      await ahead.catch(() => undefined); // the file must end with this state, not that one
      await this.store.save(record).catch(() => undefined);
      throw err;
    }
  }

  /** SIGTERM (or the container's stop signal), then SIGKILL after the timeout. */
  async stop(ref: string, timeoutSeconds?: number): Promise<void> {
    const record = this.store.get(ref);
    // Wrapped in an object: a promise returned from the locked section would hold the lock until the exit.
    const { exited } = await this.locks.run(record.id, async () => {
      if (record.state.Restarting && !record.state.Running) {
        await this.cancelRestart(record);
        return { exited: Promise.resolve() };
      }
      if (!record.state.Running) throw new NotModified(`container ${record.id} is not running`);
      record.manuallyStopped = true;
      const exited = this.supervisor.runEnd(record);
      await this.signal(record, this.stopSignal(record)).catch(() => undefined);
      return { exited };
    });
    const timeout = timeoutSeconds ?? record.config.StopTimeout ?? 10;
    const inTime = await Promise.race([exited.then(() => true), delay(Math.max(0, timeout) * 1000).then(() => false)]);
    if (!inTime) {
      await this.locks.run(record.id, () => (record.state.Running ? this.signal(record, 'SIGKILL') : undefined)).catch(() => undefined);
      await exited;
    }
    this.events.publish('container', 'stop', record.id, containerEventAttributes(record));
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const record = this.store.get(ref);
    const sig = normaliseSignal(signal);
    await this.locks.run(record.id, async () => {
      if (record.state.Restarting && !record.state.Running) return this.cancelRestart(record);
      if (!record.state.Running) throw new Conflict(`Container ${record.id} is not running`);
      if (sig === 'SIGKILL' || sig === this.stopSignal(record)) record.manuallyStopped = true;
      await this.signal(record, sig);
    });
  }

  /**
   * A container waiting out its restart policy's delay is stopped by hand: it stays
   * exited, and the pending restart, finding it so, does nothing.
   */
  private async cancelRestart(record: ContainerRecord): Promise<void> {
    record.manuallyStopped = true;
    record.state = { ...record.state, Restarting: false, Status: 'exited' };
    await this.store.save(record);
  }

  private stopSignal(record: ContainerRecord): string {
    return normaliseSignal(record.config.StopSignal || 'SIGTERM');
  }

  /**
   * Freeze a running container's processes. Docker's messages: a container that is not
   * running, already paused, or restarting is a Conflict naming it.
   */
  async pause(ref: string): Promise<void> {
    const record = this.store.get(ref);
    await this.locks.run(record.id, async () => {
      if (record.state.Restarting) throw new Conflict(`Container ${record.id} is restarting, wait until the container is running`);
      if (!record.state.Running) throw new Conflict(`Container ${record.id} is not running`);
      if (record.state.Paused) throw new Conflict(`Container ${record.id} is already paused`);
      await this.supervisor.pause(record);
      record.state = { ...record.state, Paused: true, Status: 'paused' };
      await this.store.save(record);
    });
    this.events.publish('container', 'pause', record.id, containerEventAttributes(record));
  }

  /** Thaw a paused container. */
  async unpause(ref: string): Promise<void> {
    const record = this.store.get(ref);
    await this.locks.run(record.id, async () => {
      if (!record.state.Paused) throw new Conflict(`Container ${record.id} is not paused`);
      await this.supervisor.resume(record);
      record.state = { ...record.state, Paused: false, Status: 'running' };
      await this.store.save(record);
    });
    this.events.publish('container', 'unpause', record.id, containerEventAttributes(record));
  }

  /** Signal the run's process and publish `kill` with the signal's number, as dockerd does (stop's signals included). */
  private async signal(record: ContainerRecord, signal: string): Promise<void> {
    await this.supervisor.signal(record, signal);
    // As dockerd: a paused container is thawed after SIGKILL or its stop signal, which it
    // then receives; any other signal waits for an unpause.
    if (record.state.Paused && (signal === 'SIGKILL' || signal === this.stopSignal(record))) {
      // runc thaws a container itself for SIGKILL: "not paused" (Conflict) is that, not a failure.
      await this.supervisor.resume(record).catch((err) => {
        if (!isBerthError(err, 'Conflict')) throw err;
      });
      record.state = { ...record.state, Paused: false, Status: 'running' };
    }
    const number = osConstants.signals[signal as keyof typeof osConstants.signals];
    this.events.publish('container', 'kill', record.id, containerEventAttributes(record, { signal: String(number ?? signal) }));
  }

  /** Stop a running container (with the timeout), then start it; a stopped one is only started. */
  async restart(ref: string, timeoutSeconds?: number): Promise<void> {
    const record = this.store.get(ref);
    this.restarting.add(record.id);
    try {
      await this.stop(record.id, timeoutSeconds);
    } catch (err) {
      if (!isBerthError(err, 'NotModified')) throw err;
    } finally {
      this.restarting.delete(record.id);
    }
    await this.start(record.id);
    this.events.publish('container', 'restart', record.id, containerEventAttributes(record));
  }

  async remove(ref: string, options: RemoveContainerOptions = {}): Promise<void> {
    const record = this.store.get(ref);
    // A running container is killed first (with force), and removed once its exit is recorded.
    const { exited } = await this.locks.run(record.id, async () => {
      if (!record.state.Running) {
        if (record.state.Restarting && !options.force) {
          throw new Conflict(
            `You cannot remove a restarting container ${record.id}. Stop the container before attempting removal or force remove`,
          );
        }
        this.removing.add(record.id);
        return { exited: undefined };
      }
      if (record.state.Paused && !options.force) {
        throw new Conflict(
          `You cannot remove a paused container ${record.id}. Unpause and then stop the container before attempting removal or force remove`,
        );
      }
      if (!options.force) {
        throw new Conflict(
          `You cannot remove a running container ${record.id}. Stop the container before attempting removal or force remove`,
        );
      }
      this.removing.add(record.id);
      const exited = this.supervisor.runEnd(record);
      await this.signal(record, 'SIGKILL').catch(() => undefined);
      return { exited };
    });
    try {
      await this.removeExited(record, exited, options.volumes === true);
    } finally {
      this.removing.delete(record.id);
    }
  }

  /** The second half of a removal: once the exit is recorded, the container's files, layer and record go. */
  private async removeExited(record: ContainerRecord, exited: Promise<void> | undefined, withVolumes: boolean): Promise<void> {
    if (exited) await exited;
    const began = performance.now();
    const removed = await this.locks.run(record.id, async () => {
      if (this.store.find(record.id) !== record) return false; // removed meanwhile (auto-remove)
      if (record.state.Running) throw new Conflict(`container ${record.id} was started again while being removed`);
      // What the run still holds in the kernel (an --rm container's runtime state and
      // network endpoint, left by its exit for this removal) goes first, side by side with
      // the rootfs unmount; then the record — its directory's rename is the removal's
      // commit point — and then the layer. A crash before the rename leaves an exited
      // container to remove again; after it, a layer owned by a container that no longer
      // exists, which recovery removes by its owner label. Never runtime state, a mount or
      // a layer without the record that owns it, and never a container without its layer.
      // The network endpoint is released in the background (its veth's deletion waits for
      // the kernel); its record stays until then, and recovery finishes it after a crash.
      await settled([
        this.supervisor.release(record, { keepRootfs: true, endpointsLater: true }),
        Promise.resolve().then(() => this.rootfs.unmount(record.id)),
      ]);
      await this.store.delete(record);
      await this.rootfs.remove(record.id);
      return true;
    });
    if (!removed) return;
    this.log.debug('container removed', { id: record.id, ms: elapsed(began) });
    this.events.publish('container', 'destroy', record.id, containerEventAttributes(record));
    this.supervisor.removed(record);
    // `rm -v`, `--rm`: the anonymous volumes, now that no record names them.
    if (withVolumes) await this.volumes.removeAnonymous(record);
  }
}

export const ContainerLifecycleToken = token<ContainerLifecycle>('ContainerLifecycle');

/**
 * Await every promise, then throw the first rejection: unlike Promise.all, nothing is
 * still running when the caller's clean-up starts.
 */
async function settled(promises: Array<Promise<unknown>>): Promise<void> {
  for (const result of await Promise.allSettled(promises)) if (result.status === 'rejected') throw result.reason;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
