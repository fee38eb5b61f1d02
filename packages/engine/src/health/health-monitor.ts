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
import type { ContainerRecord } from '../containers/container-record.js';
import { type ExecService, ExecServiceToken } from '../exec/exec-service.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { type HealthConfig, healthDefaults, maxOutput, nextHealth, probeCommand } from './health-rules.js';

interface Monitor {
  timer?: NodeJS.Timeout;
  stopped: boolean;
  /** When the run started (ms): the start period counts from here. */
  startedAt: number;
}

/**
 * Health checks: while a container with a health check (its image's HEALTHCHECK or the
 * create's `--health-*`) runs, its test runs every Interval as an exec through the
 * engine's ExecService (so it joins the container as `docker exec` does and shows as
 * exec events), bounded by Timeout; the results make `State.Health` (starting, healthy,
 * unhealthy, the failing streak, the last 5 probes) and `health_status: …` events.
 * Lifecycle of a container's monitor: begun at its `start` event (and, at engine start,
 * for every container recovery found running), ended at its `die` event; the health
 * stays readable until the next start resets it to `starting`, and goes at `destroy`.
 * Holds health in memory only: after a daemon restart a running container's checks
 * resume from `starting`. Owns nothing on disk.
 */
@injectable()
export class HealthMonitor {
  private readonly monitors = new Map<string, Monitor>();
  private readonly health = new Map<string, ContainerHealth>();
  private readonly onStart = (e: EngineEvent) => this.begin(e.id);
  private readonly onDie = (e: EngineEvent) => this.end(e.id);
  private readonly onDestroy = (e: EngineEvent) => {
    this.end(e.id);
    this.health.delete(e.id);
  };

  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ExecServiceToken) private readonly execs: ExecService,
    @inject(EventBusToken) private readonly events: EventBus,
    @inject(LoggerToken) private readonly log: Logger,
  ) {
    events.on('container.start', this.onStart);
    events.on('container.die', this.onDie);
    events.on('container.destroy', this.onDestroy);
  }

  /** The container's health, when it has a health check and has run with it. */
  of(id: string): ContainerHealth | undefined {
    return this.health.get(id);
  }

  /** At engine start, after recovery: resume the checks of every running container. */
  resumeRunning(): void {
    for (const record of this.store.all()) if (record.state.Running && !this.monitors.has(record.id)) this.begin(record.id);
  }

  /** Stop every check (the engine is closing; the containers keep running). */
  close(): void {
    this.events.off('container.start', this.onStart);
    this.events.off('container.die', this.onDie);
    this.events.off('container.destroy', this.onDestroy);
    for (const id of [...this.monitors.keys()]) this.end(id);
  }

  private config(record: ContainerRecord): { cmd: string[]; check: HealthConfig } | undefined {
    const check = record.config.Healthcheck ?? undefined;
    const cmd = probeCommand(check?.Test);
    return check && cmd ? { cmd, check } : undefined;
  }

  private begin(id: string): void {
    this.end(id);
    const record = this.store.find(id);
    if (!record || !this.config(record)) return;
    const startedAt = Date.parse(record.state.StartedAt) || Date.now();
    this.monitors.set(id, { stopped: false, startedAt });
    this.health.set(id, { Status: 'starting', FailingStreak: 0, Log: [] });
    this.schedule(id);
  }

  private end(id: string): void {
    const monitor = this.monitors.get(id);
    if (!monitor) return;
    monitor.stopped = true;
    clearTimeout(monitor.timer);
    this.monitors.delete(id);
  }

  private schedule(id: string): void {
    const monitor = this.monitors.get(id);
    const record = this.store.find(id);
    const found = record && this.config(record);
    if (!monitor || !found) return;
    const interval = (found.check.Interval || healthDefaults.interval) / 1e6;
    monitor.timer = setTimeout(() => void this.probe(id, monitor), interval);
    monitor.timer.unref();
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
    const before = this.health.get(id) ?? { Status: 'starting', FailingStreak: 0, Log: [] };
    const inStartPeriod = Date.now() - monitor.startedAt < (check.StartPeriod || healthDefaults.startPeriod) / 1e6;
    const after = nextHealth(before, entry, inStartPeriod, check.Retries || healthDefaults.retries);
    this.health.set(id, after);
    if (after.Status !== before.Status) {
      this.events.publish('container', `health_status: ${after.Status}`, id, { image: record.imageRef, name: record.name });
    }
    this.schedule(id);
  }

  /** One probe: an exec of `cmd`, its output (the first 4 KiB) and exit code, or -1 past the timeout. */
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
        this.log.debug('health check timed out', { id, exec: Id });
        return {
          Start: start.toISOString(),
          End: new Date().toISOString(),
          ExitCode: -1,
          Output: `Health check exceeded timeout (${timeoutMs / 1000}s)`,
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

export const HealthMonitorToken = token<HealthMonitor>('HealthMonitor');
