import {
  type ContainerHealth,
  type EngineEvent,
  type EventBus,
  EventBusToken,
  type HealthLogEntry,
  inject,
  injectable,
  type Logger,
  LoggerToken,
  token,
} from '@berth/core';
import { containerEventAttributes } from '../containers/container-events.js';
import { type ContainerLocks, ContainerLocksToken } from '../containers/container-locks.js';
import type { ContainerRecord } from '../containers/container-record.js';
import { type ExecService, ExecServiceToken } from '../exec/exec-service.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { goDuration, type HealthConfig, healthDefaults, maxOutput, nextHealth, probeCommand } from './health-rules.js';

interface Monitor {
  timer?: NodeJS.Timeout;
  stopped: boolean;
  /** When the run started (ms): the start period counts from here. */
  startedAt: number;
  /** The run's `StartedAt` as recorded: a result is written only into the run it was taken in. */
  run: string;
}

/**
 * Health checks: while a container with a health check (its image's HEALTHCHECK or the
 * create's `--health-*`) runs, its test runs every Interval as an exec through the
 * engine's ExecService (so it joins the container as `docker exec` does, shows in
 * `ExecIDs` while it runs and as exec events), bounded by Timeout: a probe still running
 * then is killed (its process, through the runtime's monitor of the exec) and counts as
 * a failure with dockerd's message. The results make `State.Health` (starting, healthy,
 * unhealthy, the failing streak, the last 5 probes) and `health_status: …` events.
 *
 * The health is part of the container's record (`state.Health`, written under the
 * container's lock after every probe), so it is durable: it survives an engine restart
 * as the rest of the state does, and stays readable after the container stops.
 * Lifecycle of a container's monitor: begun at its `start` event (the health reset to
 * `starting`), or at engine start for every container recovery found running, which
 * keeps the recorded health and schedules the next probe one Interval after the last
 * one ended (at once if that is past); ended at its `die` event. Owns nothing on disk
 * beyond that field.
 */
@injectable()
export class HealthMonitor {
  private readonly monitors = new Map<string, Monitor>();
  /** Health writes under way (awaited by `close`). */
  private readonly writes = new Set<Promise<void>>();
  private readonly onStart = (e: EngineEvent) => this.begin(e.id, false);
  private readonly onDie = (e: EngineEvent) => this.end(e.id);

  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ContainerLocksToken) private readonly locks: ContainerLocks,
    @inject(ExecServiceToken) private readonly execs: ExecService,
    @inject(EventBusToken) private readonly events: EventBus,
    @inject(LoggerToken) private readonly log: Logger,
  ) {
    events.on('container.start', this.onStart);
    events.on('container.die', this.onDie);
    events.on('container.destroy', this.onDie);
  }

  /** The container's health, when it has a health check and has run with it (its record's). */
  of(id: string): ContainerHealth | undefined {
    return this.store.find(id)?.state.Health;
  }

  /** At engine start, after recovery: resume the checks of every running container, keeping their recorded health. */
  resumeRunning(): void {
    for (const record of this.store.all()) if (record.state.Running && !this.monitors.has(record.id)) this.begin(record.id, true);
  }

  /**
   * Stop every check (the engine is closing; the containers keep running); resolves once
   * the health results already taken are written, so the next engine reads them.
   */
  async close(): Promise<void> {
    this.events.off('container.start', this.onStart);
    this.events.off('container.die', this.onDie);
    this.events.off('container.destroy', this.onDie);
    for (const id of [...this.monitors.keys()]) this.end(id);
    await Promise.all(this.writes);
  }

  private config(record: ContainerRecord): { cmd: string[]; check: HealthConfig } | undefined {
    const check = record.config.Healthcheck ?? undefined;
    const cmd = probeCommand(check?.Test);
    return check && cmd ? { cmd, check } : undefined;
  }

  private begin(id: string, resumed: boolean): void {
    this.end(id);
    const record = this.store.find(id);
    const found = record && this.config(record);
    if (!record || !found) return;
    const startedAt = Date.parse(record.state.StartedAt) || Date.now();
    const monitor: Monitor = { stopped: false, startedAt, run: record.state.StartedAt };
    this.monitors.set(id, monitor);
    const recorded = resumed ? record.state.Health : undefined;
    const interval = intervalMs(found.check);
    if (recorded) {
      // On schedule: one Interval after the last probe ended, as if the engine had stayed up.
      const lastEnd = Date.parse(recorded.Log.at(-1)?.End ?? '') || Date.now();
      this.schedule(id, Math.max(0, lastEnd + interval - Date.now()));
      return;
    }
    void this.record(id, monitor, { Status: 'starting', FailingStreak: 0, Log: [] }).then(() => this.schedule(id, interval));
  }

  private end(id: string): void {
    const monitor = this.monitors.get(id);
    if (!monitor) return;
    monitor.stopped = true;
    clearTimeout(monitor.timer);
    this.monitors.delete(id);
  }

  private schedule(id: string, delayMs?: number): void {
    const monitor = this.monitors.get(id);
    const record = this.store.find(id);
    const found = record && this.config(record);
    if (!monitor || monitor.stopped || !found) return;
    monitor.timer = setTimeout(() => void this.probe(id, monitor), delayMs ?? intervalMs(found.check));
    monitor.timer.unref();
  }

  /**
   * Write the health into the live record, under the container's lock (so it never
   * interleaves with a lifecycle change of the same record). Nothing once the monitor
   * ended or the run it belongs to has: a probe that finished after the container's exit
   * does not count.
   */
  private record(id: string, monitor: Monitor, health: ContainerHealth): Promise<void> {
    if (monitor.stopped) return Promise.resolve();
    const write = this.locks
      .run(id, async () => {
        // Written even if the engine closes meanwhile, never into a run that ended or another run.
        const record = this.store.find(id);
        if (!record?.state.Running || record.state.StartedAt !== monitor.run) return;
        const before = record.state.Health?.Status;
        record.state = { ...record.state, Health: health };
        // Told as the status changes (before the write), so whoever reads it after the event sees it.
        if (before !== undefined && before !== health.Status) {
          this.events.publish('container', `health_status: ${health.Status}`, id, containerEventAttributes(record));
        }
        await this.store.save(record);
      })
      .catch((err: Error) => this.log.warn('cannot record a health check', { id, error: err.message }))
      .finally(() => this.writes.delete(write));
    this.writes.add(write);
    return write;
  }

  private async probe(id: string, monitor: Monitor): Promise<void> {
    const record = this.store.find(id);
    const found = record && this.config(record);
    if (monitor.stopped || !record || !found) return;
    if (!record.state.Running || record.state.Paused) return this.schedule(id);
    const { cmd, check } = found;
    const timeoutMs = (check.Timeout || healthDefaults.timeout) / 1e6;
    const start = new Date();
    let entry: HealthLogEntry;
    try {
      entry = await this.run(id, cmd, timeoutMs, start);
    } catch (err) {
      // The exec could not be made (the container stopped meanwhile): a failed probe.
      entry = { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: -1, Output: (err as Error).message };
    }
    if (monitor.stopped) return;
    const before = this.store.find(id)?.state.Health ?? { Status: 'starting', FailingStreak: 0, Log: [] };
    const inStartPeriod = Date.now() - monitor.startedAt < (check.StartPeriod || healthDefaults.startPeriod) / 1e6;
    const after = nextHealth(before, entry, inStartPeriod, check.Retries || healthDefaults.retries);
    await this.record(id, monitor, after);
    this.schedule(id);
  }

  /**
   * One probe: an exec of `cmd`, its output (the first 4 KiB) and exit code. Past the
   * timeout its process is killed and the probe is a failure (-1) with dockerd's message.
   */
  private async run(id: string, cmd: string[], timeoutMs: number, start: Date): Promise<HealthLogEntry> {
    const { Id } = await this.execs.create(id, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
    let output = '';
    let timer: NodeJS.Timeout | undefined;
    try {
      const session = await this.execs.start(Id, { detach: false });
      session?.onOutput((_stream, data) => {
        if (output.length < maxOutput) output = (output + data.toString('utf8')).slice(0, maxOutput);
      });
      const timedOut = await Promise.race([
        (session?.ended ?? Promise.resolve()).then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
      ]);
      if (timedOut) {
        session?.detach();
        this.log.debug('health check timed out: killing its process', { id, exec: Id });
        await this.execs
          .kill(Id, 'SIGKILL')
          .catch((err: Error) => this.log.warn('cannot kill a timed-out health check', { id, error: err.message }));
        return {
          Start: start.toISOString(),
          End: new Date().toISOString(),
          ExitCode: -1,
          Output: `Health check exceeded timeout (${goDuration(timeoutMs)})`,
        };
      }
      const { ExitCode } = await this.execs.inspect(Id);
      return { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: ExitCode ?? -1, Output: output };
    } finally {
      clearTimeout(timer);
      this.execs.forget(Id);
    }
  }
}

function intervalMs(check: HealthConfig): number {
  return (check.Interval || healthDefaults.interval) / 1e6;
}

export const HealthMonitorToken = token<HealthMonitor>('HealthMonitor');
