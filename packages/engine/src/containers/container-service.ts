import { promises as fs, rmSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import * as path from 'node:path';
import {
  type AttachOptions,
  type AttachSession,
  Conflict,
  type ContainerCreateBody,
  type ContainerInspect,
  type ContainerListOptions,
  type ContainerState,
  type ContainerSummary,
  type ContainersApi,
  type EventBus,
  type ExitStatus,
  InvalidArgument,
  type Logger,
  type LogLine,
  type LogsOptions,
  type NetworkDriver,
  NotFound,
  NotModified,
  type RemoveContainerOptions,
  type Runtime,
  type StorageDriver,
  SystemError,
  type WaitCondition,
  type WaitResult,
} from '@berth/core';
import { isMountPoint, mountAll, unmountAll } from '@berth/native';
import type { ResolvedEngineConfig } from '../config.js';
import type { ImageService } from '../images/image-service.js';
import { type HostFacts, readHostFacts } from '../oci/index.js';
import type { ContainerStore } from '../state/container-store.js';
import type { ContainerRecord } from './container-record.js';
import { buildContainerSpec, commandOf, mergedConfig } from './container-spec.js';
import { toInspect, toSummary } from './container-views.js';
import { writeEtcFiles } from './etc-files.js';
import { checkFilterKeys, matchesFilters } from './filters.js';
import { readLog } from './log-reader.js';
import { generateName, newContainerId, validateName } from './names.js';
import { OutputHub } from './output-hub.js';

interface Waiter {
  condition: WaitCondition;
  resolve: (result: WaitResult) => void;
}

/** What the service keeps in memory for a container beyond its record. */
interface LiveState {
  hub: OutputHub;
  waiters: Set<Waiter>;
  /** Called back when the current run ends (for log followers and stop). */
  exitListeners: Set<() => void>;
  /** Serialises lifecycle operations (start, stop, remove) on one container. */
  lock: Promise<unknown>;
}

/**
 * The container lifecycle: create → start → (stop | kill | exit) → remove, with the
 * runtime's shim owning each running process. The service turns Docker's create
 * request into a record, the record into an OCI bundle at start, and the runtime's
 * exit status back into the record. Kernel state it creates (the rootfs mount, the
 * runtime's cgroup and shim) exists only while the container runs, so a created or
 * exited container holds nothing but files under the data root.
 */
export class ContainerService implements ContainersApi {
  private readonly live = new Map<string, LiveState>();
  /** Set by close(): exits seen afterwards belong to the next engine on this data root. */
  private closed = false;
  /** Read once: the capability bounding set, cgroup version, rlimits... do not change while berthd runs. */
  private readonly hostFacts: HostFacts = readHostFacts();

  constructor(
    private readonly config: ResolvedEngineConfig,
    private readonly store: ContainerStore,
    private readonly images: ImageService,
    private readonly storage: StorageDriver,
    private readonly runtimes: ReadonlyMap<string, Runtime>,
    private readonly networks: ReadonlyMap<string, NetworkDriver>,
    private readonly events: EventBus,
    private readonly log: Logger,
  ) {}

  private liveOf(id: string): LiveState {
    let l = this.live.get(id);
    if (!l) {
      l = { hub: new OutputHub(), waiters: new Set(), exitListeners: new Set(), lock: Promise.resolve() };
      this.live.set(id, l);
    }
    return l;
  }

  /** Run `fn` after every earlier lifecycle operation on this container has finished. */
  private serialise<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const l = this.liveOf(id);
    const next = l.lock.then(fn, fn);
    l.lock = next.catch(() => undefined);
    return next;
  }

  private runtimeFor(name: string): Runtime {
    const runtime = this.runtimes.get(name);
    if (!runtime) {
      const known = [...this.runtimes.keys()].join(', ') || 'none';
      throw new InvalidArgument(`unknown or invalid runtime name: ${name} (available: ${known})`);
    }
    return runtime;
  }

  /** The network a mode names: `default` (or empty) is the daemon's default network. */
  private networkName(mode: string): string {
    return mode === '' || mode === 'default' ? this.defaultNetwork() : mode;
  }

  private networkDriverFor(mode: string): NetworkDriver {
    const name = this.networkName(mode);
    const driver = this.networks.get(name);
    if (!driver) throw new NotFound(`network ${name} not found`);
    return driver;
  }

  private defaultNetwork(): string {
    return this.networks.has('bridge') ? 'bridge' : 'none';
  }

  async create(body: ContainerCreateBody, name?: string): Promise<{ Id: string; Warnings: string[] }> {
    if (!body || typeof body !== 'object') throw new InvalidArgument('config cannot be empty in order to create a container');
    if (!body.Image) throw new InvalidArgument('No image was specified: config.Image is empty');
    const began = performance.now();
    const hostConfig = body.HostConfig ?? {};
    const runtimeName = hostConfig.Runtime || this.config.defaultRuntime;
    this.runtimeFor(runtimeName);
    const image = await this.images.resolveForContainer(body.Image);
    const id = newContainerId();
    const containerName = name ? validateName(name) : generateName((n) => !!this.store.find(n));
    const config = mergedConfig(body, image.config, id);
    const { path: entry, args } = commandOf(body, image.config);
    const networkMode = hostConfig.NetworkMode || 'default';
    // An unknown network is reported at start, as dockerd does: a 404 from create
    // would make the docker CLI think the image is missing and try to pull it.
    const hostNetwork = this.networks.get(this.networkName(networkMode))?.namespaceMode === 'host';

    this.store.reserveName(containerName, id);
    const dir = this.store.dir(id);
    const rootfs = this.rootfsDir(id);
    let prepared = false;
    try {
      const topLayer = await this.images.ensureLayers(image.id);
      // The snapshot and the container's own files side by side; both settle before
      // anything can fail, so the clean-up below knows whether the snapshot exists.
      const [snapshot, etcFiles] = await Promise.allSettled([
        // An --rm container's layer goes at its exit, or after a crash: it need not be durable.
        this.storage.prepare(id, topLayer, { volatile: hostConfig.AutoRemove === true }),
        fs.mkdir(rootfs, { recursive: true, mode: 0o755 }).then(() => writeEtcFiles(dir, config.Hostname || id.slice(0, 12), hostNetwork)),
      ]);
      prepared = snapshot.status === 'fulfilled';
      if (snapshot.status === 'rejected') throw snapshot.reason;
      if (etcFiles.status === 'rejected') throw etcFiles.reason;
      const rootfsMounts = snapshot.value;
      const etc = etcFiles.value;
      // The rootfs stays mounted from create until the container exits: validating the
      // request reads the image's /etc/passwd, and start then needs no second mount.
      mountAll(rootfsMounts, rootfs);
      const spec = await buildContainerSpec({
        id,
        body,
        image: image.config,
        rootfs,
        etc,
        hostNetwork,
        cgroupParent: this.config.cgroupParent,
        host: this.hostFacts,
        anonymousVolumeDir: path.join(dir, 'volumes'),
      });
      const bundle = path.join(dir, 'bundle');
      const bundleWritten = fs
        .mkdir(bundle, { recursive: true, mode: 0o700 })
        .then(() => fs.writeFile(path.join(bundle, 'config.json'), spec.json));
      const record: ContainerRecord = {
        id,
        name: containerName,
        created: new Date().toISOString(),
        imageRef: body.Image,
        imageId: image.id,
        config: { ...config, StopSignal: spec.stopSignal },
        hostConfig: { NetworkMode: 'default', ...hostConfig, Runtime: runtimeName },
        path: entry,
        args,
        storageDriver: this.storage.name,
        rootfsMounts,
        runtime: runtimeName,
        networkMode,
        state: {
          Status: 'created',
          Running: false,
          Paused: false,
          Restarting: false,
          OOMKilled: false,
          Dead: false,
          Pid: 0,
          ExitCode: 0,
          Error: '',
          StartedAt: '0001-01-01T00:00:00Z',
          FinishedAt: '0001-01-01T00:00:00Z',
        },
        restartCount: 0,
      };
      await settled([bundleWritten, this.store.save(record)]);
      this.log.debug('container created', { id, ms: elapsed(began) });
      this.events.publish('container', 'create', id, { image: body.Image, name: containerName });
      return { Id: id, Warnings: spec.warnings };
    } catch (err) {
      // Unmount first: the record's removal renames the directory the rootfs is in.
      unmountAll(rootfs);
      const saved = this.store.find(id);
      if (saved) await this.store.delete(saved).catch(() => undefined);
      this.store.releaseName(containerName, id);
      if (prepared) await this.storage.remove(id).catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private rootfsDir(id: string): string {
    return path.join(this.store.dir(id), 'rootfs');
  }

  /**
   * The runtime's live state of a container. Keyed by the first 32 hex digits (128 bits,
   * still unique) because the shim's socket path inside it must fit in sun_path (107 bytes)
   * even under a long exec root.
   */
  private stateDir(id: string): string {
    return path.join(this.config.execRoot, 'c', id.slice(0, 32));
  }

  private logPath(id: string): string {
    return path.join(this.store.dir(id), `${id}-json.log`);
  }

  async start(ref: string): Promise<void> {
    const record = this.store.get(ref);
    try {
      await this.serialise(record.id, () => this.startLocked(record));
    } catch (err) {
      // Like dockerd: a --rm container that cannot start is removed, not left behind.
      if (record.hostConfig.AutoRemove && !(err instanceof NotModified)) {
        await this.remove(record.id, { force: true, volumes: true }).catch(() => undefined);
      }
      throw err;
    }
  }

  private async startLocked(record: ContainerRecord): Promise<void> {
    if (record.state.Running) throw new NotModified(`container ${record.id} is already running`);
    const began = performance.now();
    const phases: Record<string, number> = {};
    const runtime = this.runtimeFor(record.runtime);
    const network = this.networkDriverFor(record.networkMode);
    const hostNetwork = network.namespaceMode === 'host';
    const rootfs = this.rootfsDir(record.id);
    const bundle = path.join(this.store.dir(record.id), 'bundle');
    const stateDir = this.stateDir(record.id);
    const undo: Array<() => Promise<unknown>> = [];
    const startedAt = new Date().toISOString();
    const running = (pid: number): ContainerState => ({
      ...record.state,
      Status: 'running',
      Running: true,
      Paused: false,
      OOMKilled: false,
      Dead: false,
      Pid: pid,
      ExitCode: 0,
      Error: '',
      StartedAt: startedAt,
      FinishedAt: '0001-01-01T00:00:00Z',
    });
    // The record says "running" on disk before the runtime is asked: written (fsynced,
    // ~3 ms) while runc creates the container (~30 ms), not after it on the path of every
    // start. A daemon that dies in between finds it running at its next start, and
    // recover() adopts the container through its shim, or, if the shim never came up,
    // records the exit (255) as for any shim it cannot find; the pid comes from adopt.
    const ahead = this.store.persist({ ...record, state: running(0) });
    ahead.catch(() => undefined); // awaited below, on every path
    try {
      if (!isMountPoint(rootfs)) {
        mountAll(await this.storage.mounts(record.id), rootfs);
      }
      undo.push(async () => unmountAll(rootfs));
      undo.push(() => fs.rm(stateDir, { recursive: true, force: true }));

      let pid: number;
      try {
        ({ pid } = await runtime.create({
          id: record.id,
          bundle,
          stateDir,
          logPath: this.logPath(record.id),
          openStdin: !!record.config.OpenStdin,
        }));
      } catch (err) {
        throw runtimeError(err);
      }
      phases.create = elapsed(began);
      undo.push(() => runtime.delete(record.id));
      const endpoint = { networkId: network.name, id: record.id, containerId: record.id, aliases: [record.name] };
      await network.attach(endpoint, hostNetwork ? undefined : `/proc/${pid}/ns/net`);
      undo.push(() => network.detach(endpoint));
      const streams = await runtime.connect(record.id);
      const live = this.liveOf(record.id);
      live.hub.connect(streams);
      phases.attached = elapsed(began);
      await runtime.start(record.id);
      phases.started = elapsed(began);
      await ahead;
      record.state = running(pid);
      this.log.debug('container started', { id: record.id, ...phases, ms: elapsed(began) });
      this.events.publish('container', 'start', record.id, { image: record.imageRef, name: record.name });
      this.monitor(record, runtime);
    } catch (err) {
      for (const step of undo.reverse())
        await step().catch((e) => this.log.warn('start rollback step failed', { id: record.id, error: String(e) }));
      record.state = { ...record.state, Error: err instanceof Error ? err.message : String(err) };
      await ahead.catch(() => undefined); // the file must end with this state, not that one
      await this.store.save(record).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Watch a running container until it exits, then record the exit and clean up. Not
   * once the service is closed: the container outlives this engine, and its exit is the
   * business of the next one (which re-adopts it), not of one that has let go.
   */
  private monitor(record: ContainerRecord, runtime: Runtime): void {
    runtime.wait(record.id).then(
      (status) => (this.closed ? undefined : this.onExit(record, status)),
      (err) => {
        if (this.closed) return;
        this.log.error('lost track of a container', { id: record.id, error: String(err) });
        return this.onExit(record, { exitCode: 255, oomKilled: false, finishedAt: new Date().toISOString() });
      },
    );
  }

  /** Let go of the running containers: stop acting on their exits, drop their streams. */
  close(): void {
    this.closed = true;
    for (const l of this.live.values()) l.hub.disconnect();
  }

  private async onExit(record: ContainerRecord, status: ExitStatus): Promise<void> {
    const began = performance.now();
    const live = this.liveOf(record.id);
    // The shim closes the output connection before the one that reported the exit, but
    // this process may see the second close first: let the output arrive, then end the
    // sessions (bounded, as the shim bounds its own drain).
    await live.hub.outputDone(2000);
    live.hub.endRun();
    // An --rm container's run resources are released by its removal, side by side with
    // the removal of its layer and record.
    const autoRemove = !!record.hostConfig.AutoRemove;
    if (!autoRemove) await this.releaseRunResources(record);
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
    // An --rm container's record is about to go: its exit is written only if that fails.
    if (!autoRemove) await this.saveExit(record);
    if (status.oomKilled) this.events.publish('container', 'oom', record.id, { image: record.imageRef, name: record.name });
    this.events.publish('container', 'die', record.id, {
      exitCode: String(status.exitCode),
      image: record.imageRef,
      name: record.name,
    });
    for (const w of [...live.waiters]) {
      if (w.condition === 'removed') continue;
      live.waiters.delete(w);
      w.resolve({ StatusCode: status.exitCode, Error: null });
    }
    for (const l of [...live.exitListeners]) l();
    if (autoRemove) {
      await this.remove(record.id, { force: true, volumes: true }).catch(async (err) => {
        this.log.error('auto-remove failed', { id: record.id, error: String(err) });
        if (this.store.find(record.id)) await this.saveExit(record);
      });
    }
  }

  private saveExit(record: ContainerRecord): Promise<void> {
    return this.store.save(record).catch((err) => this.log.error('cannot record an exit', { id: record.id, error: String(err) }));
  }

  /**
   * Undo what a run holds in the kernel: network endpoint, runtime state, rootfs mount
   * (unless `keepRootfs`: the caller unmounts it). Failures are logged, not thrown.
   */
  private async releaseRunResources(record: ContainerRecord, options: { keepRootfs?: boolean } = {}): Promise<void> {
    const network = this.networks.get(this.networkName(record.networkMode));
    // The process is gone, so these are independent: run them side by side.
    const steps: Array<() => Promise<unknown> | unknown> = [
      () => network?.detach({ networkId: network.name, id: record.id, containerId: record.id, aliases: [record.name] }),
      async () => {
        await this.runtimes.get(record.runtime)?.delete(record.id);
        // The runtime's delete removes its state dir; this catches one that did not. Sync:
        // almost always a no-op stat, where the async rm took 0.4-1.3 ms of threadpool
        // round trips on the path of every run --rm.
        rmSync(this.stateDir(record.id), { recursive: true, force: true });
      },
      () => (options.keepRootfs ? undefined : unmountAll(this.rootfsDir(record.id))),
    ];
    await Promise.all(
      steps.map(async (step) => {
        try {
          await step();
        } catch (err) {
          this.log.warn('cleanup step failed', { id: record.id, error: String(err) });
        }
      }),
    );
  }

  /** Resolves when the container's current run has ended (immediately when not running). */
  private exited(record: ContainerRecord): Promise<void> {
    if (!record.state.Running) return Promise.resolve();
    const live = this.liveOf(record.id);
    return new Promise((resolve) => {
      const done = () => {
        live.exitListeners.delete(done);
        resolve();
      };
      live.exitListeners.add(done);
    });
  }

  async stop(ref: string, timeoutSeconds?: number): Promise<void> {
    const record = this.store.get(ref);
    if (!record.state.Running) throw new NotModified(`container ${record.id} is not running`);
    const runtime = this.runtimeFor(record.runtime);
    const timeout = timeoutSeconds ?? record.config.StopTimeout ?? 10;
    const exited = this.exited(record);
    const signal = record.config.StopSignal || 'SIGTERM';
    await runtime.kill(record.id, signal).catch(() => undefined);
    const inTime = await Promise.race([exited.then(() => true), delay(Math.max(0, timeout) * 1000).then(() => false)]);
    if (!inTime) {
      await runtime.kill(record.id, 'SIGKILL').catch(() => undefined);
      await exited;
    }
    this.events.publish('container', 'stop', record.id, { image: record.imageRef, name: record.name });
  }

  /** Docker's restart: stop if running (NotModified from a race with its exit is fine), start, publish `restart`. */
  async restart(ref: string, timeoutSeconds?: number): Promise<void> {
    const record = this.store.get(ref);
    if (record.state.Running) {
      await this.stop(record.id, timeoutSeconds).catch((err) => {
        if (!(err instanceof NotModified)) throw err;
      });
    }
    await this.start(record.id);
    this.events.publish('container', 'restart', record.id, { image: record.imageRef, name: record.name });
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const record = this.store.get(ref);
    if (!record.state.Running) throw new Conflict(`Container ${record.id} is not running`);
    const sig = normaliseSignal(signal);
    await this.runtimeFor(record.runtime).kill(record.id, sig);
    this.events.publish('container', 'kill', record.id, { image: record.imageRef, name: record.name, signal: sig });
  }

  async remove(ref: string, options: RemoveContainerOptions = {}): Promise<void> {
    const record = this.store.get(ref);
    if (record.state.Running) {
      if (!options.force) {
        throw new Conflict(
          `You cannot remove a running container ${record.id}. Stop the container before attempting removal or force remove`,
        );
      }
      const exited = this.exited(record);
      await this.runtimeFor(record.runtime)
        .kill(record.id, 'SIGKILL')
        .catch(() => undefined);
      await exited;
    }
    const began = performance.now();
    await this.serialise(record.id, async () => {
      if (!this.store.find(record.id)) return; // removed meanwhile (auto-remove)
      // The runtime's and the network's share goes while the rootfs is unmounted and the
      // layer and the record are deleted (those need the unmount first). The layer and
      // the record side by side: a crash between the two leaves a snapshot without a
      // record, which recover() removes, or a record without its snapshot, which rm handles.
      await settled([
        this.releaseRunResources(record, { keepRootfs: true }),
        (async () => {
          unmountAll(this.rootfsDir(record.id));
          await settled([
            this.storage.remove(record.id).catch((err) => {
              if (!(err instanceof NotFound)) throw err;
            }),
            this.store.delete(record),
          ]);
        })(),
      ]);
    });
    this.log.debug('container removed', { id: record.id, ms: elapsed(began) });
    const live = this.live.get(record.id);
    this.live.delete(record.id);
    this.events.publish('container', 'destroy', record.id, { image: record.imageRef, name: record.name });
    for (const w of live?.waiters ?? []) w.resolve({ StatusCode: record.state.ExitCode, Error: null });
  }

  async list(options: ContainerListOptions = {}): Promise<ContainerSummary[]> {
    const filters = options.filters ?? {};
    checkFilterKeys(filters);
    // Like docker: a status filter widens `ps` to stopped containers even without -a.
    const everyState = options.all || !!filters.status;
    let records = this.store.all().filter((r) => (everyState || r.state.Running) && matchesFilters(r, filters, this.store));
    records.sort((a, b) => b.created.localeCompare(a.created));
    if (options.limit && options.limit > 0) records = records.slice(0, options.limit);
    return records.map((r) => toSummary(r));
  }

  async inspect(ref: string): Promise<ContainerInspect> {
    const record = this.store.get(ref);
    return toInspect(record, {
      logPath: this.logPath(record.id),
      dir: this.store.dir(record.id),
      rootfs: this.rootfsDir(record.id),
    });
  }

  async wait(ref: string, condition: WaitCondition = 'not-running'): Promise<WaitResult> {
    const record = this.store.get(ref);
    if (condition === 'not-running' && !record.state.Running) {
      return { StatusCode: record.state.ExitCode, Error: null };
    }
    const live = this.liveOf(record.id);
    return new Promise((resolve) => live.waiters.add({ condition, resolve }));
  }

  async logs(ref: string, options: LogsOptions): Promise<{ tty: boolean; lines: AsyncIterable<LogLine> }> {
    const record = this.store.get(ref);
    const tty = !!record.config.Tty;
    const follow = options.follow && record.state.Running;
    const live = this.liveOf(record.id);
    const lines = readLog(
      this.logPath(record.id),
      { ...options, stdout: options.stdout ?? true, stderr: options.stderr ?? true },
      follow
        ? {
            isDone: () => !record.state.Running,
            onDone: (cb) => {
              live.exitListeners.add(cb);
              return () => live.exitListeners.delete(cb);
            },
          }
        : undefined,
    );
    return { tty, lines };
  }

  async attach(ref: string, options: AttachOptions): Promise<AttachSession> {
    const record = this.store.get(ref);
    if (record.state.Status === 'exited' && options.stream) {
      throw new Conflict('You cannot attach to a stopped container, start it first');
    }
    const session = this.liveOf(record.id).hub.session(!!record.config.Tty, !!options.stdin);
    this.events.publish('container', 'attach', record.id, { image: record.imageRef, name: record.name });
    return session;
  }

  /**
   * After a daemon restart: re-adopt every container the records say is running. One
   * whose shim is gone is recorded as exited with the status its shim left behind.
   */
  async recover(): Promise<void> {
    await this.removeOrphanSnapshots();
    for (const record of this.store.all()) {
      if (!record.state.Running) continue;
      const runtime = this.runtimes.get(record.runtime);
      if (!runtime) {
        this.log.error('runtime of a running container is gone', { id: record.id, runtime: record.runtime });
        continue;
      }
      try {
        const found = await runtime.adopt(record.id, this.stateDir(record.id));
        if (found.state === 'running') {
          record.state = { ...record.state, Pid: found.pid };
          this.liveOf(record.id).hub.connect(await runtime.connect(record.id));
          this.monitor(record, runtime);
        } else {
          await this.onExit(record, found.status);
        }
      } catch (err) {
        this.log.error('cannot re-adopt a container', { id: record.id, error: String(err) });
        await this.onExit(record, { exitCode: 255, oomKilled: false, finishedAt: new Date().toISOString() });
      }
    }
  }

  /**
   * A container's writable snapshot (key: its 64-hex id) whose record is gone: what a
   * crash in the middle of a removal leaves. Removed, so it holds no space forever.
   */
  private async removeOrphanSnapshots(): Promise<void> {
    for (const snapshot of await this.storage.walk()) {
      if (snapshot.kind !== 'active' || !/^[0-9a-f]{64}$/.test(snapshot.key) || this.store.find(snapshot.key)) continue;
      this.log.warn('removing the writable layer of a container that no longer exists', { id: snapshot.key });
      await this.storage
        .remove(snapshot.key)
        .catch((err) => this.log.error('cannot remove an orphan container layer', { id: snapshot.key, error: String(err) }));
    }
  }

  /** How many containers use an image (for rmi's conflict check). */
  usersOf(imageId: string): ContainerRecord[] {
    return this.store.all().filter((r) => r.imageId === imageId);
  }
}

/**
 * Await every promise, then throw the first rejection: unlike Promise.all, nothing is
 * still running when the caller's clean-up starts.
 */
async function settled(promises: Array<Promise<unknown>>): Promise<void> {
  for (const result of await Promise.allSettled(promises)) if (result.status === 'rejected') throw result.reason;
}

/** Milliseconds since `since` (a performance.now() reading), to 0.1 ms. */
function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 10) / 10;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

const signalNumbers: Record<string, string> = {
  '1': 'SIGHUP',
  '2': 'SIGINT',
  '3': 'SIGQUIT',
  '6': 'SIGABRT',
  '9': 'SIGKILL',
  '10': 'SIGUSR1',
  '12': 'SIGUSR2',
  '14': 'SIGALRM',
  '15': 'SIGTERM',
  '17': 'SIGCHLD',
  '18': 'SIGCONT',
  '19': 'SIGSTOP',
  '20': 'SIGTSTP',
};

/** `HUP`, `sighup`, `SIGHUP` and `1` all become `SIGHUP`; anything else is an InvalidArgument. */
export function normaliseSignal(signal: string): string {
  const s = signal.trim().toUpperCase();
  if (signalNumbers[s]) return signalNumbers[s];
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  if (!(name in osConstants.signals)) throw new InvalidArgument(`Invalid signal: ${signal}`);
  return name;
}

/** The runtime's create error as Docker reports it: a bad command is the user's mistake (400). */
function runtimeError(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (/executable file not found|no such file or directory|permission denied|not a directory/i.test(message)) {
    return new InvalidArgument(message);
  }
  return new SystemError(message, { cause: err });
}
