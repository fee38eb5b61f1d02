import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import {
  type AttachSession,
  Conflict,
  defaultDetachKeys,
  type EventBus,
  EventBusToken,
  type ExecCreateBody,
  type ExecInspect,
  type ExecsApi,
  type ExitStatus,
  InvalidArgument,
  inject,
  injectable,
  isBerthError,
  type Logger,
  LoggerToken,
  NotFound,
  type RuntimeProcess,
  SystemError,
  token,
} from '@berth/core';
import { HostFactsToken } from '../containers/container-bundles.js';
import { type ContainerDrivers, ContainerDriversToken } from '../containers/container-drivers.js';
import { containerEventAttributes } from '../containers/container-events.js';
import { type ContainerLocks, ContainerLocksToken } from '../containers/container-locks.js';
import { type ContainerPaths, ContainerPathsToken } from '../containers/container-paths.js';
import type { ContainerRecord } from '../containers/container-record.js';
import type { HostFacts, OciProcess, OciSpec } from '../oci/index.js';
import { elapsed } from '../runs/timing.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { buildExecProcess } from './exec-process.js';
import { type ExecRecord, execInspect } from './exec-record.js';
import { ExecSession } from './exec-session.js';
import { type ExecSpare, ExecSpares } from './exec-spares.js';
import { endUnstartedMonitor, releaseExecState } from './exec-state.js';

/** One exec in memory: its record, and while it runs, the runtime's process. */
interface ExecEntry {
  record: ExecRecord;
  process?: RuntimeProcess;
  /** A terminal size asked for before the process ran, applied once it runs. */
  pendingSize?: { height: number; width: number };
  /** The runtime's process made ahead of the start (PreparedExec), while it is made or waits. */
  prepared?: Promise<PreparedExec | undefined>;
  /** The write of its record at its start (removing the record waits for it). */
  saving?: Promise<void>;
  /** Found done (exited, or its container gone) by a sweep: the next one forgets it. */
  done?: true;
}

/**
 * The runtime's process of an exec made at its create, between the create's answer and
 * the client's start request (a `docker exec` asks for both at once): the runtime's work
 * before the process can run (runtime-oci: the plan, launching the exec's shim into its
 * cgroups, ~2-5 ms here) is then off the start's path. Nothing runs before the start. It
 * is discarded (the runtime's `kill` before `start`: nothing ran) when the start does not
 * come within `preparedIdleMs`, or finds the container's init changed; the runtime's
 * monitor also ends by itself when its container's init exits or the daemon goes. Never
 * recorded on disk: a restarted engine has nothing of it to adopt.
 */
interface PreparedExec {
  /** The runtime's `exec`, or a spare monitor (ExecSpares) bound to this exec's process. */
  process: RuntimeProcess;
  stateDir: string;
  /** The container's init the process was made for. */
  initPid: number;
  timer?: NodeJS.Timeout;
  /** Waiting for the start; taken by it; or discarded (its state dir gone once `released` resolves). */
  state: 'waiting' | 'taken' | 'discarded';
  released?: Promise<void>;
}

/** At most this many execs are prepared at once (a client creating execs it never starts costs a process each). */
const preparedLimit = 16;
/** A prepared exec not started within this is discarded (its start then makes the process itself). */
const preparedIdleMs = 10_000;
/** The bundle processes kept in memory, for as many containers. */
const processSpecsKept = 256;
/**
 * How often execs that are done are swept from memory: one found done (exited, or its
 * container removed) by a sweep is forgotten by the next, so it stays inspectable by id
 * for 5 to 10 minutes after its end, as dockerd keeps it.
 */
const sweepIntervalMs = 5 * 60_000;

/**
 * `docker exec` (core's `ExecsApi`): execs recorded in memory at create, run through the
 * container's runtime at start (its own monitor holds the process's stdio, terminal and
 * exit status), watched until they exit. A running exec's record is also on disk
 * (`ContainerPaths.execRecords()`, written while its process starts), so `recover` finds
 * it after a daemon crash and learns its exit from the runtime; a monitor no record names
 * (a crash came before the record was on disk, or it was a spare or prepared one) is
 * ended at `recover`, its exec undone. Lifecycle of an exec: create → start → running → exited (its
 * ExitCode kept) → forgotten by a sweep 5 to 10 minutes later. The execs of a removed
 * container go the same way, whatever their state; the created execs of a container
 * that stays are kept, as dockerd keeps them. A container's run ending
 * ends its execs (their pid namespace goes): their monitors record the exit (137) like
 * any other, which removes their records from disk; `recover` drops the records of
 * containers that no longer run.
 */
@injectable()
export class ExecService implements ExecsApi {
  private readonly execs = new Map<string, ExecEntry>();
  /** Execs being prepared or waiting prepared (PreparedExec), up to `preparedLimit`. */
  private readonly preparing = new Set<ExecEntry>();
  /** The engine is stopping: nothing is prepared any more. */
  private closed = false;
  /** Monitors made ahead for the next exec of containers that exec'd lately. */
  private readonly spares: ExecSpares;
  /** `execRecords()` exists (made at the first save). */
  private recordsDirMade = false;
  /** The process of each running container's bundle (what an exec's is made from), by its init. */
  private readonly processSpecs = new Map<string, { pid: number; process: OciProcess }>();

  /** Runs `sweep` every `sweepIntervalMs` until `close`. */
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ContainerDriversToken) private readonly drivers: ContainerDrivers,
    @inject(ContainerPathsToken) private readonly paths: ContainerPaths,
    @inject(ContainerLocksToken) private readonly locks: ContainerLocks,
    @inject(HostFactsToken) private readonly host: HostFacts,
    @inject(EventBusToken) private readonly events: EventBus,
    @inject(LoggerToken) private readonly log: Logger,
  ) {
    this.spares = new ExecSpares(store, drivers, paths, log);
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  /**
   * Forget the execs a previous sweep found done (exited, or their container removed),
   * and mark those done now for the next: without it every exec a long-lived container
   * ran (`docker exec` in a loop) would stay in memory, and in the scan of its ExecIDs,
   * for the container's life. Run every `sweepIntervalMs`; public for tests.
   */
  sweep(): void {
    for (const [id, entry] of this.execs) {
      const { record } = entry;
      const exited = record.exitCode !== null && !record.running;
      if (!exited && this.store.find(record.containerId)) continue;
      if (entry.done) this.execs.delete(id);
      else entry.done = true;
    }
  }

  async create(ref: string, body: ExecCreateBody): Promise<{ Id: string }> {
    const container = this.store.get(ref);
    this.checkRunning(container);
    if (!body.Cmd || body.Cmd.length === 0) throw new InvalidArgument('No exec command specified');
    const id = randomBytes(32).toString('hex');
    const record: ExecRecord = {
      id,
      containerId: container.id,
      config: { ...body },
      detachKeys: body.DetachKeys || defaultDetachKeys,
      started: false,
      running: false,
      exitCode: null,
      pid: 0,
    };
    const entry: ExecEntry = { record };
    this.execs.set(id, entry);
    this.publish(record, `exec_create: ${(body.Cmd ?? []).join(' ')}`);
    if (this.preparing.size < preparedLimit) {
      // A spare is for a process without terminal or stdin (what probes and scripts run).
      const spare = body.Tty !== true && body.AttachStdin !== true ? this.spares.take(container) : undefined;
      entry.prepared = spare ? this.fromSpare(entry, container, spare) : this.prepare(entry);
    }
    return { Id: id };
  }

  /**
   * A spare monitor taken for a created exec, bound to its process at once (the process
   * part goes to the monitor now, so the start is the start request alone): from now on
   * its PreparedExec. One that cannot run it is ended, and the exec's own is made instead.
   */
  private async fromSpare(entry: ExecEntry, container: ContainerRecord, spare: ExecSpare): Promise<PreparedExec | undefined> {
    this.preparing.add(entry);
    let bound = false;
    try {
      const process = (await this.execProcess(container, entry.record)) as unknown as Record<string, unknown>;
      bound = spare.process.bind(process);
    } catch (err) {
      this.log.debug('exec not bound to a spare monitor', { id: entry.record.id, error: String(err) });
    }
    if (!bound) {
      this.preparing.delete(entry);
      void this.spares.end(container.id, spare);
      return this.prepare(entry);
    }
    const prepared: PreparedExec = { process: spare.process, stateDir: spare.stateDir, initPid: spare.initPid, state: 'waiting' };
    this.idleTimer(entry, prepared);
    return prepared;
  }

  /** A prepared exec whose start does not come within `preparedIdleMs` is discarded. */
  private idleTimer(entry: ExecEntry, prepared: PreparedExec): void {
    prepared.timer = setTimeout(() => {
      if (prepared.state !== 'waiting') return;
      entry.prepared = undefined;
      void this.discardPrepared(entry, prepared);
    }, preparedIdleMs);
    prepared.timer.unref();
  }

  /**
   * Make the runtime's process of a created exec ahead of its start (PreparedExec). It
   * begins once the create has been answered (the next turn of the event loop), under the
   * container's lock as the start's own would; undefined when it cannot (the container
   * stopped, the start came first, the runtime failed: the start then tries itself).
   */
  private async prepare(entry: ExecEntry): Promise<PreparedExec | undefined> {
    this.preparing.add(entry);
    const { record } = entry;
    let made: PreparedExec | undefined;
    try {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (record.started || this.closed) return undefined;
      const prepared = await this.locks.run(record.containerId, async (): Promise<PreparedExec | undefined> => {
        const container = this.store.find(record.containerId);
        if (!container?.state.Running || container.state.Paused || record.started) return undefined;
        const stateDir = this.paths.execStateDir(container.id, record.id);
        const process = await this.runtimeExec(container, record, stateDir);
        return { process, stateDir, initPid: container.state.Pid, state: 'waiting' };
      });
      if (!prepared) return undefined;
      made = prepared;
      this.idleTimer(entry, prepared);
      return prepared;
    } catch (err) {
      this.log.debug('exec not prepared ahead of its start', { id: record.id, error: String(err) });
      return undefined;
    } finally {
      // Counted until taken or discarded; one never made counts no more.
      if (!made) this.preparing.delete(entry);
    }
  }

  /**
   * The engine is stopping: every prepared exec nobody started is discarded (nothing ran
   * in it), so that no monitor outlives the engine waiting for a start that cannot come
   * and the runtime's shim cgroup, which a waiting monitor keeps busy, can be removed.
   * Execs that run keep running, as containers do.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await this.spares.close();
    await Promise.all(
      [...this.preparing].map(async (entry) => {
        const prepared = await entry.prepared;
        if (!prepared) return;
        if (prepared.state === 'waiting') {
          entry.prepared = undefined;
          await this.discardPrepared(entry, prepared);
        } else if (prepared.state === 'discarded') await prepared.released;
      }),
    );
  }

  /**
   * The exec's prepared process for its start, if one is ready for the container's
   * current init; one that is not is discarded, and its state dir is gone on return (the
   * start makes its own in the same place).
   */
  private async takePrepared(entry: ExecEntry, container: ContainerRecord): Promise<PreparedExec | undefined> {
    const pending = entry.prepared;
    entry.prepared = undefined;
    const prepared = await pending;
    this.preparing.delete(entry);
    if (!prepared) return undefined;
    if (prepared.state === 'discarded') {
      await prepared.released; // by its idle timer meanwhile
      return undefined;
    }
    if (prepared.initPid === container.state.Pid && container.state.Running && !container.state.Paused) {
      prepared.state = 'taken';
      clearTimeout(prepared.timer);
      return prepared;
    }
    await this.discardPrepared(entry, prepared);
    return undefined;
  }

  /**
   * End a prepared exec's monitor before it ran anything (waiting, or taken by a start
   * that then could not use it), and remove its state dir. Once only.
   */
  private discardPrepared(entry: ExecEntry, prepared: PreparedExec): Promise<void> {
    if (prepared.state === 'discarded') return prepared.released ?? Promise.resolve();
    prepared.state = 'discarded';
    clearTimeout(prepared.timer);
    this.preparing.delete(entry);
    prepared.released = endUnstartedMonitor(this.store, this.drivers, entry.record.containerId, prepared.process, prepared.stateDir).catch(
      (err: Error) => {
        this.log.warn('cannot discard an exec prepared ahead of its start', { id: entry.record.id, error: err.message });
      },
    );
    return prepared.released;
  }

  async start(id: string, options: { detach: boolean }): Promise<AttachSession | undefined> {
    const entry = this.entry(id);
    const { record } = entry;
    if (record.running) throw new Conflict(`Error: Exec command ${id} is already running`);
    if (record.started) throw new Conflict(`Error: Exec command ${id} has already run`);
    const container = this.store.get(record.containerId);
    record.started = true;
    const began = performance.now();
    const phases: Record<string, number> = {};
    let process: RuntimeProcess;
    let prepared: PreparedExec | undefined;
    try {
      // Before the lock: a preparation under way holds it.
      prepared = await this.takePrepared(entry, container);
      phases.taken = elapsed(began);
      process = await this.locks.run(container.id, async () => {
        this.checkRunning(container);
        if (prepared && prepared.initPid !== container.state.Pid) {
          await this.discardPrepared(entry, prepared);
          prepared = undefined;
        }
        record.stateDir = prepared?.stateDir ?? this.paths.execStateDir(container.id, id);
        phases.prepared = elapsed(began);
        return prepared?.process ?? this.runtimeExec(container, record, record.stateDir);
      });
    } catch (err) {
      record.started = false; // nothing was recorded yet
      if (prepared) await this.discardPrepared(entry, prepared);
      throw err;
    }
    entry.process = process;
    const session = options.detach
      ? undefined
      : new ExecSession(record.config.Tty === true, record.config.AttachStdin === true, process.streams);
    if (!session) process.streams.onOutput(() => {}); // nobody reads a detached exec's output
    phases.monitor = elapsed(began);
    // The start goes to the monitor first, then the record is written while the process
    // starts (a file create, 0.2-2 ms on a busy disk, and even its dispatch to the
    // threadpool were on the start's path): a crash before it is on disk leaves a monitor
    // no record names, which `recover` ends (the exec undone).
    const starting = process.start();
    const written = this.save(record);
    entry.saving = written;
    try {
      const { pid } = await starting;
      phases.started = elapsed(began);
      // The record on disk says "started": a restarted engine asks the runtime for the pid.
      record.running = true;
      record.pid = pid;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // dockerd's codes for a process that could not run: 127 not found, 126 otherwise.
      record.exitCode = /executable file not found|no such file or directory/i.test(message) ? 127 : 126;
      void written.catch(() => {}).then(() => this.unsave(record)); // never before it is written
      entry.process = undefined;
      // Its monitor records the failure and ends; its state goes after it.
      void process.wait().then(() => this.release(record));
      if (!session) throw isBerthError(err) ? err : new Conflict(message);
      session.fail(message);
      return session;
    }
    // A record that cannot be written ends the exec: nothing would find it after a restart.
    const unrecorded = written.then(
      () => undefined,
      (err: Error) => {
        this.log.error('cannot record an exec: ending it', { id, error: err.message });
        void process.kill('SIGKILL').catch(() => {});
        return err;
      },
    );
    // A detached exec's answer says it runs: only once its record is on disk. An attached
    // one's stream goes on meanwhile (its client learns of an end from the stream).
    if (!session) {
      const err = await unrecorded;
      if (err) throw new SystemError(`cannot record exec ${id}: ${err.message}`);
    }
    this.publish(record, `exec_start: ${(record.config.Cmd ?? []).join(' ')}`);
    if (entry.pendingSize) void this.resizeProcess(entry, entry.pendingSize);
    this.log.debug('exec started', { id, container: container.id, madeAhead: prepared !== undefined, ...phases, ms: elapsed(began) });
    this.watch(entry, process, session, began);
    return session;
  }

  /** The runtime's process of an exec (nothing runs until its `start`), in `stateDir`. */
  private async runtimeExec(container: ContainerRecord, record: ExecRecord, stateDir: string): Promise<RuntimeProcess> {
    const oci = await this.execProcess(container, record);
    return this.drivers.runtime(container.runtime).exec({
      containerId: container.id,
      execId: record.id,
      stateDir,
      process: oci as unknown as Record<string, unknown>,
      openStdin: record.config.AttachStdin === true,
      terminal: oci.terminal,
    });
  }

  /** The OCI process of an exec, made from its container's (see buildExecProcess). */
  private async execProcess(container: ContainerRecord, record: ExecRecord): Promise<OciProcess> {
    // The container's own is read once per run of it (its bundle's process never changes
    // while it runs): synchronously, one small file from the page cache (~50 µs, and
    // ~0.3 ms to parse), where the threadpool's queue (behind a removal's deletes, a
    // layer's unpack) cost up to tens of ms per exec.
    let known = this.processSpecs.get(container.id);
    if (known?.pid !== container.state.Pid) {
      const spec = JSON.parse(readFileSync(path.join(this.paths.bundle(container.id), 'config.json'), 'utf8')) as OciSpec;
      known = { pid: container.state.Pid, process: spec.process };
      this.processSpecs.delete(container.id);
      this.processSpecs.set(container.id, known);
      // Kept for the containers that exec'd last: removed containers' go in time.
      if (this.processSpecs.size > processSpecsKept) this.processSpecs.delete(this.processSpecs.keys().next().value!);
    }
    return buildExecProcess(known.process, record.config, this.paths.rootfs(container.id), this.host.boundingSet);
  }

  /**
   * Forget an exec nobody will ask about again (a health check's probe, every few
   * seconds for the container's life): its id is unknown from now on. One still running
   * is still watched until it exits.
   */
  forget(id: string): void {
    this.execs.delete(id);
  }

  /**
   * Signal a running exec's process (not the container's init), through the runtime's
   * monitor of it: how a health probe past its timeout is ended. Its exit is then
   * recorded as any other. Nothing to do once it has exited.
   */
  async kill(id: string, signal: string): Promise<void> {
    const entry = this.execs.get(id);
    if (!entry) throw new NotFound(`No such exec instance: ${id}`);
    await entry.process?.kill(signal);
  }

  /**
   * `ExecIDs` of a container's inspect, as dockerd lists them: the execs created or
   * running in it (health probes included), in creation order; an exec leaves the list
   * when it exits (it can still be inspected by id). Null when there are none, and for
   * a container that does not run: its execs ended with it, even while their monitors
   * are still reporting their exits.
   */
  idsOf(containerId: string): string[] | null {
    if (!this.store.find(containerId)?.state.Running) return null;
    const ids: string[] = [];
    for (const [id, { record }] of this.execs) if (record.containerId === containerId && record.exitCode === null) ids.push(id);
    return ids.length ? ids : null;
  }

  /**
   * Where the runtime keeps an exec's live state (its monitor's), once its monitor is made:
   * `paths.execStateDir` of the exec, or of the spare it took (diagnostics, tests).
   */
  async monitorDir(id: string): Promise<string | undefined> {
    const entry = this.entry(id);
    return entry.record.stateDir ?? (await entry.prepared)?.stateDir;
  }

  /** The state dir of the ready spare monitor of a container (ExecSpares), if it has one (diagnostics, tests). */
  spareDir(containerId: string): string | undefined {
    return this.spares.dirOf(containerId);
  }

  async inspect(id: string): Promise<ExecInspect> {
    return execInspect(this.entry(id).record);
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    const entry = this.entry(id);
    if (!entry.record.started) {
      entry.pendingSize = { height, width };
      return;
    }
    if (!entry.record.running) throw new Conflict(`exec ${id} is not running`);
    await this.resizeProcess(entry, { height, width });
  }

  /**
   * After an engine start (the containers re-adopted): find the execs a previous engine
   * left running. One whose container still runs is adopted through the runtime (still
   * running, or its exit as its monitor recorded it); the others are forgotten.
   */
  async recover(): Promise<void> {
    let files: string[];
    try {
      files = await fs.readdir(this.paths.execRecords());
    } catch {
      return;
    }
    for (const file of files.filter((f) => f.endsWith('.json'))) {
      const full = path.join(this.paths.execRecords(), file);
      let record: ExecRecord;
      try {
        record = JSON.parse(await fs.readFile(full, 'utf8')) as ExecRecord;
      } catch (err) {
        this.log.warn('unreadable exec record removed', { file: full, error: String(err) });
        rmSync(full, { force: true });
        continue;
      }
      const container = this.store.find(record.containerId);
      const runtime = container && this.drivers.findRuntime(container.runtime);
      if (!container?.state.Running || !runtime || !record.stateDir) {
        rmSync(full, { force: true });
        continue;
      }
      const entry: ExecEntry = { record };
      this.execs.set(record.id, entry);
      try {
        const found = await runtime.adoptExec(container.id, record.id, record.stateDir);
        if (found.state === 'created') {
          // Never started (the previous engine died between the runtime's exec and its
          // start): discarded, as the runtime contract has it; the exec is forgotten.
          await found.process.kill('SIGKILL');
          found.process.streams.close();
          this.execs.delete(record.id);
          this.unsave(record);
        } else if (found.state === 'running') {
          record.running = true;
          record.pid = found.pid;
          entry.process = found.process;
          found.process.streams.onOutput(() => {}); // nobody is attached to an adopted exec
          this.watch(entry, found.process, undefined);
        } else {
          this.exited(entry, found.state === 'exited' ? found.status : lost())();
        }
      } catch (err) {
        this.log.error('cannot re-adopt an exec', { id: record.id, container: container.id, error: String(err) });
        this.exited(entry, lost())();
      }
    }
    await this.endUnrecorded();
  }

  /**
   * The monitors in running containers that no record names, ended and their state
   * removed: spare and prepared ones of the previous engine (they end by themselves when
   * it goes: only their state is left), and an exec whose record was still being written
   * when the previous engine died (its start and its record go together: see `start`):
   * that exec is undone, its process killed, as no client was told it ran.
   */
  private async endUnrecorded(): Promise<void> {
    const named = new Set<string>();
    for (const { record } of this.execs.values()) if (record.stateDir) named.add(path.resolve(record.stateDir));
    const ends: Promise<void>[] = [];
    for (const container of this.store.all()) {
      const runtime = container.state.Running ? this.drivers.findRuntime(container.runtime) : undefined;
      if (!runtime) continue;
      const parent = this.paths.execStateDirs(container.id);
      let names: string[];
      try {
        names = readdirSync(parent);
      } catch {
        continue; // no exec ever ran in it
      }
      for (const name of names) {
        const dir = path.join(parent, name);
        if (named.has(dir)) continue;
        ends.push(
          (async () => {
            const found = await runtime.adoptExec(container.id, name, dir);
            if (found.state !== 'exited') {
              if (found.state === 'running') this.log.warn('ended an exec no record names', { container: container.id, pid: found.pid });
              await found.process.kill('SIGKILL').catch(() => {});
              found.process.streams.close();
            }
            await runtime.releaseExec(container.id, dir);
          })().catch((err: Error) => {
            this.log.warn('cannot end an exec monitor no record names', { container: container.id, dir, error: err.message });
          }),
        );
      }
    }
    await Promise.all(ends);
  }

  private watch(entry: ExecEntry, process: RuntimeProcess, session: ExecSession | undefined, began?: number): void {
    process.wait().then(
      (status) => {
        const forget = this.exited(entry, status);
        if (began !== undefined) this.log.debug('exec exited', { id: entry.record.id, exitCode: status.exitCode, ms: elapsed(began) });
        session?.end();
        // After the stream's end is on its way: the client then asks for the exec's inspect.
        setImmediate(forget);
        const { config, containerId } = entry.record;
        if (config.Tty !== true && config.AttachStdin !== true) this.spares.refill(containerId);
      },
      (err) => {
        this.log.error('lost track of an exec', { id: entry.record.id, error: String(err) });
        const forget = this.exited(entry, lost());
        session?.end();
        forget();
      },
    );
  }

  /**
   * Record an exec's exit in memory (before its attached stream ends, so the client's
   * inspect sees it) and tell it; returns what is left to do, which the caller does once
   * the stream has ended: the record on disk and the state dir go (file system work,
   * slow on a busy disk, kept off the end of the client's stream; a crash before it only
   * leaves a record whose exit the next engine reads again from the runtime).
   */
  private exited(entry: ExecEntry, status: ExitStatus): () => void {
    const { record } = entry;
    if (record.exitCode !== null && !record.running) return () => {};
    record.running = false;
    record.exitCode = status.exitCode;
    entry.process = undefined;
    this.publish(record, 'exec_die', { exitCode: String(status.exitCode) });
    return () => {
      // In libuv's threadpool: an unlink on a busy disk took up to 4 ms of the event loop
      // here, just as the client asks for the exec's inspect. After the record's write.
      (entry.saving ?? Promise.resolve())
        .catch(() => {})
        .then(() => fs.rm(this.recordFile(record), { force: true }))
        .then(
          () => this.release(record),
          (err: Error) => this.log.warn('cannot remove the record of an exited exec', { id: record.id, error: err.message }),
        );
    };
  }

  /**
   * An exited exec's state dir goes now, its record on disk gone first (so a crash in
   * between leaves a dir the container's delete removes, never a record without its
   * dir). Its container may be gone already, its state with it.
   */
  private release(record: ExecRecord): void {
    if (!record.stateDir) return;
    releaseExecState(this.store, this.drivers, record.containerId, record.stateDir).catch((err: Error) => {
      this.log.warn('cannot remove the state of an exited exec', { id: record.id, error: err.message });
    });
  }

  private async resizeProcess(entry: ExecEntry, size: { height: number; width: number }): Promise<void> {
    if (!entry.process || entry.record.config.Tty !== true) return;
    await entry.process.streams.resize(size.height, size.width).catch((err: Error) => {
      // An exec that ended meanwhile has no terminal left to size: not the client's error.
      if (entry.record.running) throw new Conflict(`cannot resize exec ${entry.record.id}: ${err.message}`);
    });
  }

  private entry(id: string): ExecEntry {
    const entry = this.execs.get(id);
    // An exec goes with its container.
    if (entry && !this.store.find(entry.record.containerId)) this.execs.delete(id);
    else if (entry) return entry;
    throw new NotFound(`No such exec instance: ${id}`);
  }

  private checkRunning(container: ContainerRecord): void {
    if (!container.state.Running) throw new Conflict(`Container ${container.id} is not running`);
    if (container.state.Paused) throw new Conflict(`Container ${container.id} is paused, unpause the container before exec`);
  }

  /**
   * The record of a running exec, for `recover` after a daemon crash. In the exec root,
   * whose content dies with the host by contract, so it is not fsynced: a daemon's crash
   * loses no page cache, and the two fsyncs (several ms on a busy disk) were on the path of
   * every exec. Written once, under a name no other exec has, in one write of a few hundred
   * bytes (less than a page: a killed daemon leaves all of it or an empty file, which
   * `recover` removes), so without a temporary file and a rename: each is a metadata
   * operation of the file system on the path of every exec (0.1-1 ms each on this busy VM's
   * ext4). Synchronous: microseconds when the disk is idle.
   */
  /** The record of a started exec on disk, written in libuv's threadpool (a file create: 0.2-0.8 ms on a busy disk). */
  private async save(record: ExecRecord): Promise<void> {
    if (!this.recordsDirMade) {
      await fs.mkdir(this.paths.execRecords(), { recursive: true, mode: 0o700 });
      this.recordsDirMade = true;
    }
    await fs.writeFile(this.recordFile(record), `${JSON.stringify(record)}\n`, { mode: 0o600 });
  }

  private unsave(record: ExecRecord): void {
    rmSync(this.recordFile(record), { force: true });
  }

  private recordFile(record: ExecRecord): string {
    return path.join(this.paths.execRecords(), `${record.id}.json`);
  }

  private publish(record: ExecRecord, action: string, extra: Record<string, string> = {}): void {
    const container = this.store.find(record.containerId);
    const attributes = { execID: record.id, ...extra };
    this.events.publish(
      'container',
      action,
      record.containerId,
      container ? containerEventAttributes(container, attributes) : { ...attributes, image: '', name: '' },
    );
  }
}

export const ExecServiceToken = token<ExecService>('ExecService');

function lost(): ExitStatus {
  return { exitCode: 255, oomKilled: false, finishedAt: new Date().toISOString() };
}
