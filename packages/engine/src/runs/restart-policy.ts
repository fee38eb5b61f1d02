import { type ExitStatus, inject, injectable, isBerthError, type Logger, LoggerToken, type RestartPolicy, token } from '@berth/core';
import { type ContainerLifecycle, ContainerLifecycleToken } from '../containers/container-lifecycle.js';
import { type ContainerLocks, ContainerLocksToken } from '../containers/container-locks.js';
import type { ContainerRecord } from '../containers/container-record.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { type RunSupervisor, RunSupervisorToken } from './run-supervisor.js';

/** Docker's first restart delay; each restart in a row doubles it. */
export const firstRestartDelayMs = 100;
/** Docker's longest restart delay. */
export const maxRestartDelayMs = 60_000;
/** A run at least this long resets the delay to the first one (Docker's rule). */
export const resetAfterRunMs = 10_000;

/** What one exit leads to: no restart, or a restart after `delayMs`. */
export type RestartDecision = { restart: false } | { restart: true; delayMs: number };

/** What `decideRestart` needs to know about an exit. */
export interface ExitFacts {
  policy: RestartPolicy | undefined;
  exitCode: number;
  /** Stopped by hand (`stop`, `kill` with SIGKILL or the stop signal). */
  manuallyStopped: boolean;
  /** Restarts the policy made since the last start by hand (the record's RestartCount). */
  restartCount: number;
  /** How long the run lasted. */
  runMs: number;
  /** The delay before the previous restart in this row, 0 for none. */
  previousDelayMs: number;
}

/**
 * Docker's restart manager as a pure function: whether an exit is followed by a restart,
 * and after how long. `no` never restarts; `always` always does; `unless-stopped` unless
 * stopped by hand; `on-failure[:N]` when the exit code is not 0, at most N times (0: no
 * limit). An exit that follows a stop by hand is never restarted, whatever the policy. The
 * delay starts at 100 ms and doubles with each restart in a row, up to a minute; a run
 * of 10 s or more starts the row again. That back-off is what keeps a crash-looping
 * container from spinning the CPU.
 */
export function decideRestart(facts: ExitFacts): RestartDecision {
  const name = facts.policy?.Name ?? '';
  if (name === '' || name === 'no' || facts.manuallyStopped) return { restart: false };
  let restart = false;
  if (name === 'always' || name === 'unless-stopped') restart = true;
  else if (name === 'on-failure') {
    const max = facts.policy?.MaximumRetryCount ?? 0;
    restart = facts.exitCode !== 0 && (max === 0 || facts.restartCount < max);
  }
  if (!restart) return { restart: false };
  const previous = facts.runMs >= resetAfterRunMs ? 0 : facts.previousDelayMs;
  const delayMs = previous === 0 ? firstRestartDelayMs : Math.min(previous * 2, maxRestartDelayMs);
  return { restart: true, delayMs };
}

/**
 * Whether a stopped container starts when the engine starts, as dockerd decides at its
 * restore: `always` whatever stopped it, `unless-stopped` unless stopped by hand,
 * `on-failure` after a failed exit (within its retry count).
 */
export function restartsAtEngineStart(record: ContainerRecord): boolean {
  const policy = record.hostConfig.RestartPolicy;
  const name = policy?.Name ?? '';
  if (name === 'always') return true;
  if (name === 'unless-stopped') return !record.manuallyStopped;
  if (name === 'on-failure') {
    const max = policy?.MaximumRetryCount ?? 0;
    return record.state.ExitCode !== 0 && !record.manuallyStopped && (max === 0 || record.restartCount < max);
  }
  return false;
}

/**
 * Restart policies (`--restart`), an exit listener of the run supervisor. Lifecycle: at
 * an exit it decides (decideRestart); a restart marks the container `restarting` under
 * its lock (RestartCount + 1, written), then starts it through the lifecycle after the
 * back-off delay, unless a stop, kill or removal came in between (the lifecycle's start
 * with `policy` refuses then). At engine start, `restoreAtStart` starts the stopped
 * containers whose policy says so (and those a previous engine left restarting); `close`
 * drops the pending restarts (the next engine's restore takes them up). Holds only the
 * timers and each container's current delay, in memory.
 */
@injectable()
export class RestartPolicies {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly delays = new Map<string, number>();
  private closed = false;

  constructor(
    @inject(RunSupervisorToken) supervisor: RunSupervisor,
    @inject(ContainerLifecycleToken) private readonly lifecycle: ContainerLifecycle,
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ContainerLocksToken) private readonly locks: ContainerLocks,
    @inject(LoggerToken) private readonly log: Logger,
  ) {
    supervisor.onExit((record, status, removing) => (removing ? undefined : this.exited(record, status)));
  }

  private async exited(record: ContainerRecord, status: ExitStatus): Promise<void> {
    if (this.closed) return;
    // A start by hand reset the count: the row of restarts begins again.
    if (record.restartCount === 0) this.delays.delete(record.id);
    const decision = decideRestart({
      policy: record.hostConfig.RestartPolicy,
      exitCode: status.exitCode,
      manuallyStopped: !!record.manuallyStopped,
      restartCount: record.restartCount,
      runMs: Date.parse(status.finishedAt) - Date.parse(record.state.StartedAt),
      previousDelayMs: this.delays.get(record.id) ?? 0,
    });
    if (!decision.restart) return;
    const marked = await this.locks.run(record.id, async () => {
      if (this.store.find(record.id) !== record || record.state.Running || record.manuallyStopped) return false;
      record.restartCount += 1;
      record.state = { ...record.state, Status: 'restarting', Restarting: true };
      await this.store.save(record);
      return true;
    });
    if (!marked) return;
    this.delays.set(record.id, decision.delayMs);
    this.schedule(record, decision.delayMs);
  }

  private schedule(record: ContainerRecord, delayMs: number): void {
    clearTimeout(this.timers.get(record.id));
    const timer = setTimeout(() => {
      this.timers.delete(record.id);
      void this.restartNow(record);
    }, delayMs);
    this.timers.set(record.id, timer);
  }

  private async restartNow(record: ContainerRecord): Promise<void> {
    if (this.closed || this.store.find(record.id) !== record) return;
    try {
      await this.lifecycle.start(record.id, { policy: true });
    } catch (err) {
      if (isBerthError(err, 'NotModified')) return; // stopped or removed meanwhile
      this.log.error('restart policy: cannot restart a container', { id: record.id, error: String(err) });
      // As dockerd: a failed restart leaves the container stopped, with the error.
      await this.locks.run(record.id, async () => {
        if (this.store.find(record.id) !== record || record.state.Running) return;
        record.state = { ...record.state, Restarting: false, Status: 'exited' };
        await this.store.save(record).catch(() => undefined);
      });
    }
  }

  /**
   * After recovery: start what a restart policy says should run (restartsAtEngineStart),
   * and what the previous engine left waiting to restart. Failures are logged.
   */
  async restoreAtStart(): Promise<void> {
    const starting: Array<Promise<void>> = [];
    for (const record of this.store.all()) {
      if (record.state.Running || this.timers.has(record.id)) continue;
      if (record.state.Restarting) {
        starting.push(this.restartNow(record));
      } else if (restartsAtEngineStart(record)) {
        starting.push(
          this.lifecycle
            .start(record.id)
            .catch((err) => this.log.error('restart policy: cannot start a container', { id: record.id, error: String(err) })),
        );
      }
    }
    await Promise.all(starting);
  }

  /** The engine is closing: no more restarts from this engine. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}

export const RestartPoliciesToken = token<RestartPolicies>('RestartPolicies');
