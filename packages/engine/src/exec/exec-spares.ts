import { randomBytes } from 'node:crypto';
import type { Logger, PreparedExecProcess } from '@berth/core';
import type { ContainerDrivers } from '../containers/container-drivers.js';
import type { ContainerPaths } from '../containers/container-paths.js';
import type { ContainerRecord } from '../containers/container-record.js';
import type { ContainerStore } from '../state/container-store.js';
import { endUnstartedMonitor, releaseExecState } from './exec-state.js';

/** One container's monitor for its next exec. */
export interface ExecSpare {
  process: PreparedExecProcess;
  stateDir: string;
  /** The container's init it was made for. */
  initPid: number;
}

/** At most this many containers hold a spare at once (one idle monitor process each, ~0.75 MiB). */
const spareLimit = 32;
/** A spare nobody took within this is ended: the container has not exec'd lately. */
const spareIdleMs = 60_000;
/**
 * A spare is made this long after an exec ended, not at once: the client that ran the
 * exec is still reading its result (the exec's inspect), and a launch then would compete
 * with it for the CPU.
 */
const refillDelayMs = 10;

interface Slot {
  /** The spare while it is made, then ready. */
  made: Promise<ExecSpare | undefined>;
  spare?: ExecSpare;
  timer?: NodeJS.Timeout;
}

/**
 * Spare exec monitors: for each container that ran an exec lately, the runtime's monitor
 * for the next one, made ahead (core's `Runtime.prepareExec`, runtime-oci: a direct exec's
 * shim waiting in its cgroups), so that exec's start costs one request to the monitor and
 * the process itself. What Docker clients do again and again (a health probe every few
 * seconds, `docker exec` in a loop) then finds its monitor ready; a container's first exec
 * makes its own at its create as before (ExecService's PreparedExec).
 *
 * Lifecycle of a spare: made after an exec of its container ended (`refill`) → taken by
 * the next exec's create (`take`: from then on the exec's, as a PreparedExec) or ended:
 * when nobody took it within `spareIdleMs`, when the engine closes, or by itself when the
 * container's init exits (the monitor watches it). Nothing runs in the container until
 * an exec starts; a spare is never recorded on disk: a monitor whose daemon died ends by
 * itself (its last client went) and leaves a state dir that goes with the container's.
 */
export class ExecSpares {
  private readonly slots = new Map<string, Slot>();
  private closed = false;

  constructor(
    private readonly store: ContainerStore,
    private readonly drivers: ContainerDrivers,
    private readonly paths: ContainerPaths,
    private readonly log: Logger,
  ) {}

  /**
   * The ready spare of `container` for its current init, now the caller's (who must start
   * or discard it); undefined when there is none ready. One that is not for this init any
   * more is ended.
   */
  take(container: ContainerRecord): ExecSpare | undefined {
    const slot = this.slots.get(container.id);
    if (!slot?.spare) return undefined;
    this.slots.delete(container.id);
    clearTimeout(slot.timer);
    const { spare } = slot;
    if (spare.initPid === container.state.Pid) return spare;
    void this.end(container.id, spare);
    return undefined;
  }

  /**
   * Make the next spare of the container `containerId` (shortly: `refillDelayMs`), unless it
   * has one, does not run, or its runtime cannot prepare execs.
   */
  refill(containerId: string): void {
    if (this.closed || this.slots.has(containerId) || this.slots.size >= spareLimit) return;
    const container = this.store.find(containerId);
    if (!container?.state.Running || container.state.Paused) return;
    const runtime = this.drivers.findRuntime(container.runtime);
    if (!runtime?.prepareExec) return;
    const prepareExec = runtime.prepareExec.bind(runtime);
    const slot: Slot = { made: Promise.resolve(undefined) };
    slot.made = (async (): Promise<ExecSpare | undefined> => {
      await new Promise((resolve) => setTimeout(resolve, refillDelayMs).unref());
      const current = this.store.find(containerId);
      if (this.closed || this.slots.get(containerId) !== slot || !current?.state.Running || current.state.Paused) return undefined;
      const stateDir = this.paths.execStateDir(containerId, randomBytes(32).toString('hex'));
      const process = await prepareExec(containerId, stateDir);
      return process && { process, stateDir, initPid: current.state.Pid };
    })().then(
      (spare) => {
        if (!spare) {
          if (this.slots.get(containerId) === slot) this.slots.delete(containerId);
          return undefined;
        }
        if (this.closed || this.slots.get(containerId) !== slot) {
          void this.end(containerId, spare);
          return undefined;
        }
        slot.spare = spare;
        slot.timer = setTimeout(() => {
          if (this.slots.get(containerId) !== slot) return;
          this.slots.delete(containerId);
          void this.end(containerId, spare);
        }, spareIdleMs);
        slot.timer.unref();
        // It ends by itself with the container's init: forget it then.
        void spare.process.wait().then(() => {
          if (this.slots.get(containerId) !== slot) return;
          this.slots.delete(containerId);
          clearTimeout(slot.timer);
          void this.release(containerId, spare);
        });
        return spare;
      },
      (err: Error) => {
        if (this.slots.get(containerId) === slot) this.slots.delete(containerId);
        this.log.debug('no spare exec monitor', { container: containerId, error: err.message });
        return undefined;
      },
    );
    this.slots.set(containerId, slot);
  }

  /** The state dir of the container's spare while it is ready (diagnostics, tests). */
  dirOf(containerId: string): string | undefined {
    return this.slots.get(containerId)?.spare?.stateDir;
  }

  /** The engine is stopping: every spare ends (nothing ran in any), those being made too. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = [...this.slots];
    this.slots.clear();
    await Promise.all(
      slots.map(async ([containerId, slot]) => {
        clearTimeout(slot.timer);
        const spare = slot.spare ?? (await slot.made);
        if (spare) await this.end(containerId, spare);
      }),
    );
  }

  /** End a spare nobody started (its monitor records that nothing ran) and remove its state. */
  async end(containerId: string, spare: ExecSpare): Promise<void> {
    await endUnstartedMonitor(this.store, this.drivers, containerId, spare.process, spare.stateDir).catch((err: Error) =>
      this.warn(containerId, err),
    );
  }

  /** A spare that ended by itself: its state goes. */
  private async release(containerId: string, spare: ExecSpare): Promise<void> {
    await releaseExecState(this.store, this.drivers, containerId, spare.stateDir).catch((err: Error) => this.warn(containerId, err));
  }

  private warn(containerId: string, err: Error): void {
    this.log.warn('cannot remove the state of a spare exec monitor', { container: containerId, error: err.message });
  }
}
