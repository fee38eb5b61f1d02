import {
  type AttachOptions,
  type AttachSession,
  Conflict,
  type ContainerStreams,
  type EventBus,
  EventBusToken,
  inject,
  injectable,
  type LogLine,
  type LogsOptions,
  NotImplemented,
  token,
  type WaitCondition,
  type WaitResult,
} from '@berth/core';
import { containerEventAttributes } from '../containers/container-events.js';
import type { ContainerPaths } from '../containers/container-paths.js';
import { ContainerPathsToken } from '../containers/container-paths.js';
import type { ContainerRecord } from '../containers/container-record.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { storedLogConfig } from './log-config.js';
import { readLog } from './log-reader.js';
import { emptySession, logReplaySession } from './log-replay-session.js';
import { OutputHub } from './output-hub.js';

interface Waiter {
  condition: WaitCondition;
  resolve: (result: WaitResult) => void;
}

/** What lives in memory for one container: its output hub and who waits on it. */
interface Channels {
  hub: OutputHub;
  waiters: Set<Waiter>;
  /** Called back when the current run ends (log followers, stop, remove). */
  runEndListeners: Set<() => void>;
}

/**
 * Container I/O: the output of each run fanned out to attach sessions, logs read back
 * (and followed) from the log file, and the waiters of `wait`. Lifecycle of a
 * container's channels: made on first use (an attach or a wait may come before start),
 * connected to a run's streams by the supervisor, told when the run ends and when the
 * container is removed, then forgotten. Owns no kernel state and writes nothing.
 */
@injectable()
export class ContainerIo {
  private readonly channels = new Map<string, Channels>();

  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ContainerPathsToken) private readonly paths: ContainerPaths,
    @inject(EventBusToken) private readonly events: EventBus,
  ) {}

  private of(id: string): Channels {
    let c = this.channels.get(id);
    if (!c) {
      c = { hub: new OutputHub(), waiters: new Set(), runEndListeners: new Set() };
      this.channels.set(id, c);
    }
    return c;
  }

  /** A run's streams: output flows to the sessions from now on. */
  connect(id: string, streams: ContainerStreams): void {
    this.of(id).hub.connect(streams);
  }

  /**
   * The run has exited: let its last output arrive (bounded by `timeoutMs`, as the shim
   * bounds its own drain), then end the sessions of the run.
   */
  async drainRun(id: string, timeoutMs: number): Promise<void> {
    const { hub } = this.of(id);
    await hub.outputDone(timeoutMs);
    hub.endRun();
  }

  /** The exit is recorded: answer the waiters of this run and call its run-end listeners. */
  runEnded(id: string, exitCode: number): void {
    const c = this.of(id);
    for (const w of [...c.waiters]) {
      if (w.condition === 'removed') continue;
      c.waiters.delete(w);
      w.resolve({ StatusCode: exitCode, Error: null });
    }
    for (const l of [...c.runEndListeners]) l();
  }

  /** The container is gone: answer `removed` waiters, end the sessions waiting for a run, forget its channels. */
  removed(id: string, exitCode: number): void {
    const c = this.channels.get(id);
    this.channels.delete(id);
    for (const w of c?.waiters ?? []) w.resolve({ StatusCode: exitCode, Error: null });
    c?.hub.endRun();
  }

  /** Resolves when the container's current run has ended (at once when it is not running). */
  runEnd(record: ContainerRecord): Promise<void> {
    if (!record.state.Running) return Promise.resolve();
    const c = this.of(record.id);
    return new Promise((resolve) => {
      const done = () => {
        c.runEndListeners.delete(done);
        resolve();
      };
      c.runEndListeners.add(done);
    });
  }

  async wait(ref: string, condition: WaitCondition = 'not-running'): Promise<WaitResult> {
    const record = this.store.get(ref);
    if (condition === 'not-running' && !record.state.Running) {
      return { StatusCode: record.state.ExitCode, Error: null };
    }
    const c = this.of(record.id);
    return new Promise((resolve) => c.waiters.add({ condition, resolve }));
  }

  async logs(ref: string, options: LogsOptions): Promise<{ tty: boolean; lines: AsyncIterable<LogLine> }> {
    const record = this.store.get(ref);
    // dockerd's answer for a driver it cannot read back (501).
    if (storedLogConfig(record.hostConfig.LogConfig).Type === 'none')
      throw new NotImplemented('configured logging driver does not support reading');
    const tty = !!record.config.Tty;
    const follow = options.follow && record.state.Running;
    const c = this.of(record.id);
    const lines = readLog(
      this.paths.log(record.id),
      { ...options, stdout: options.stdout ?? true, stderr: options.stderr ?? true },
      follow
        ? {
            isDone: () => !record.state.Running,
            onDone: (cb) => {
              c.runEndListeners.add(cb);
              return () => c.runEndListeners.delete(cb);
            },
          }
        : undefined,
    );
    return { tty, lines };
  }

  /**
   * `stream` attaches to the live output: of the current run, or, for a container that is
   * not running, of its next one (the CLI's `start -a` attaches before it starts; a
   * stopped container's session waits, as dockerd's does). `logs` replays the log first;
   * with `logs` and no `stream` the session ends after the replay, and with neither at once.
   */
  async attach(ref: string, options: AttachOptions): Promise<AttachSession> {
    const record = this.store.get(ref);
    const tty = !!record.config.Tty;
    const live = options.stream ? this.of(record.id).hub.session(tty, !!options.stdin) : undefined;
    this.events.publish('container', 'attach', record.id, containerEventAttributes(record));
    if (!options.logs) return live ?? emptySession(tty);
    const lines = readLog(this.paths.log(record.id), { stdout: true, stderr: true }, undefined);
    return logReplaySession(lines, live, tty);
  }

  /** The window size of a running container's terminal; nothing without a terminal. */
  async resize(ref: string, height: number, width: number): Promise<void> {
    const record = this.store.get(ref);
    if (!record.state.Running) throw new Conflict(`Container ${record.id} is not running`);
    if (!record.config.Tty) return;
    await this.of(record.id).hub.resize(height, width);
  }

  /** Let go of every run's streams (the engine is closing; the containers keep running). */
  close(): void {
    for (const c of this.channels.values()) c.hub.disconnect();
  }
}

export const ContainerIoToken = token<ContainerIo>('ContainerIo');
