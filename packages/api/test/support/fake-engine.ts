import { createHash, randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { Readable } from 'node:stream';
import {
  type AttachOptions,
  type AttachSession,
  type BuildRequest,
  type CommitOptions,
  Conflict,
  type ContainerChangeEntry,
  type ContainerCreateBody,
  type ContainerInspect,
  type ContainerListOptions,
  type ContainerPathStat,
  type ContainerStatsSample,
  type ContainerSummary,
  type ContainersPruneReport,
  type ContainerTop,
  type ContainerUpdate,
  type ContainerUpdateResult,
  type EngineApi,
  EventBus,
  type ExecInspect,
  type Filters,
  Forbidden,
  type ImageDeleteEntry,
  type ImageInspect,
  type ImageSummary,
  type ImagesDiskUsage,
  type ImagesPruneReport,
  type ImportOptions,
  InvalidArgument,
  type LogLine,
  type LogsOptions,
  type NetworkConnectRequest,
  type NetworkCreateRequest,
  type NetworkDisconnectRequest,
  type NetworkInspect,
  NotFound,
  NotImplemented,
  NotModified,
  type PluginStatus,
  type PullOptions,
  type PushOptions,
  type PutArchiveOptions,
  type RegistryAuth,
  type StatsOptions,
  SystemError,
  type SystemInfo,
  Unauthorized,
  type VersionInfo,
  type Volume,
  type VolumeCreateBody,
  type WaitCondition,
  type WaitResult,
} from '@berth/core';

/**
 * An in-memory EngineApi for the HTTP layer's tests. Containers "run" a tiny script
 * language instead of processes: `Cmd` is `["sh","-c","echo hi; echo oops >&2; exit 3"]`
 * or a bare `["echo","hi"]`; statements are `echo WORDS [>&2]`, `exit N`, `sleep S`
 * (`sleep inf` waits for stop/kill; `sleep S & wait` is the same, the form a real shell
 * needs to run a trap during the sleep), `trap "exit N" SIGNAL...` and `cat` (copies
 * stdin to stdout until it closes). Signals follow PID 1 of a namespace, as the real
 * engine's containers do: SIGKILL ends the run (137), a trapped signal runs its trap's
 * `exit N`, any other signal is ignored. It keeps the EngineApi contract of
 * `engineApiSuite` (@berth/testkit) like the real engine; see engine-api-contract.test.ts.
 */

interface FakeImage {
  id: string;
  tags: string[];
  created: number;
  size: number;
  config: ContainerCreateBody;
}

type Listener = (stream: 'stdout' | 'stderr', data: Buffer) => void;

interface FakeContainer {
  id: string;
  name: string;
  body: ContainerCreateBody;
  image: FakeImage;
  status: 'created' | 'running' | 'exited';
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  created: Date;
  log: LogLine[];
  outputListeners: Set<Listener>;
  logFollowers: Set<() => void>;
  exitWaiters: Array<(code: number) => void>;
  removeWaiters: Array<(code: number) => void>;
  stdin: Buffer[];
  stdinClosed: boolean;
  stdinWaiters: Array<() => void>;
  stopRun?: (code: number) => void;
  /** Signal name → exit code of the current run's `trap "exit N" SIG` statements. */
  traps: Map<string, number>;
  runs: number;
  /** Frozen by `pause`: its script does not advance, signals wait for `unpause` (SIGKILL included). */
  paused: boolean;
  pendingSignals: string[];
}

const signalNames: Record<string, string> = {
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
const knownSignals = new Set(Object.values(signalNames));

/** `HUP`, `sighup`, `SIGHUP` and `1` are all `SIGHUP`, as the real engine reads them. */
function signalName(signal: string): string {
  const s = signal.trim().toUpperCase();
  if (signalNames[s]) return signalNames[s];
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  if (!knownSignals.has(name)) throw new InvalidArgument(`Invalid signal: ${signal}`);
  return name;
}

const knownFilterKeys = new Set(['id', 'name', 'status', 'exited', 'label', 'ancestor', 'before', 'since']);

function nowRfc3339Nano(): string {
  const ns = process.hrtime.bigint() % 1_000_000n;
  return new Date().toISOString().replace(/\.(\d{3})Z$/, (_m, ms: string) => `.${ms}${ns.toString().padStart(6, '0')}Z`);
}

function familiar(ref: string): string {
  let r = ref;
  if (r.startsWith('docker.io/library/')) r = r.slice(18);
  else if (r.startsWith('docker.io/')) r = r.slice(10);
  if (!r.startsWith('sha256:') && !r.slice(r.lastIndexOf('/') + 1).includes(':')) r += ':latest';
  return r;
}

export class FakeEngine implements EngineApi {
  readonly events = new EventBus();
  readonly calls: Array<{ method: string; args: unknown[] }> = [];
  readonly imageStore = new Map<string, FakeImage>();
  readonly containerStore = new Map<string, FakeContainer>();
  /** What `load` returns, and the bytes it read. */
  loadNames = ['busybox:latest'];
  /** When set, `images.import` reads this many bytes of the upload, then refuses it. */
  importRefusesAfter: number | undefined;
  lastUpload?: Buffer;

  constructor() {
    this.addImage('busybox:latest', { Cmd: ['sh'] });
  }

  addImage(tag: string, config: ContainerCreateBody = {}): FakeImage {
    const id = `sha256:${createHash('sha256')
      .update(tag + Math.random())
      .digest('hex')}`;
    const image: FakeImage = { id, tags: [familiar(tag)], created: 1795372722, size: 1984172, config };
    this.imageStore.set(id, image);
    return image;
  }

  private record(method: string, ...args: unknown[]) {
    this.calls.push({ method, args });
  }

  findImage(ref: string): FakeImage {
    const want = familiar(ref);
    for (const img of this.imageStore.values()) {
      if (img.id === ref || img.id.slice(7).startsWith(ref) || img.tags.includes(want)) return img;
    }
    throw new NotFound(`No such image: ${want}`);
  }

  findContainer(ref: string): FakeContainer {
    for (const c of this.containerStore.values()) if (c.id === ref || c.name === ref) return c;
    for (const c of this.containerStore.values()) if (c.id.startsWith(ref)) return c;
    throw new NotFound(`No such container: ${ref}`);
  }

  version(): VersionInfo {
    return {
      Platform: { Name: 'berth' },
      Components: [{ Name: 'Engine', Version: '0.1.0-fake', Details: { ApiVersion: '0' } }],
      Version: '0.1.0-fake',
      ApiVersion: '0',
      MinAPIVersion: '0',
      GitCommit: 'fake',
      GoVersion: 'node',
      Os: 'linux',
      Arch: 'amd64',
      KernelVersion: '6.0',
      BuildTime: '2026-11-22T00:00:00Z',
    };
  }

  async info(): Promise<SystemInfo> {
    const all = [...this.containerStore.values()];
    const running = all.filter((c) => c.status === 'running').length;
    return {
      ID: 'FAKE',
      ExperimentalBuild: false,
      Containers: all.length,
      ContainersRunning: running,
      ContainersPaused: 0,
      ContainersStopped: all.length - running,
      Images: this.imageStore.size,
      Driver: 'fakefs',
      DriverStatus: [['Backing Filesystem', 'memory']],
      Plugins: { Volume: [], Network: ['none'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      PidsLimit: true,
      OomKillDisable: true,
      IPv4Forwarding: true,
      Debug: false,
      NFd: 1,
      NGoroutines: 1,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: '1',
      KernelVersion: '6.0',
      OperatingSystem: 'Fake OS',
      OSType: 'linux',
      Architecture: 'x86_64',
      NCPU: 2,
      MemTotal: 1 << 30,
      DockerRootDir: '/var/lib/berth',
      Name: 'fakehost',
      Labels: [],
      ServerVersion: '0.1.0-fake',
      Runtimes: { runc: { path: 'runc' } },
      DefaultRuntime: 'runc',
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive' },
      LiveRestoreEnabled: false,
      Isolation: '',
      InitBinary: '',
      SecurityOptions: [],
      Warnings: null,
      BerthPlugins: this.plugins(),
    };
  }

  plugins(): PluginStatus[] {
    return [
      { kind: 'storage', name: 'fakefs', status: 'ok', reason: '', description: 'memory' },
      { kind: 'runtime', name: 'crun', status: 'skipped', reason: 'cgroups in hybrid mode not supported', description: 'crun' },
    ];
  }

  readonly containers = {
    create: async (body: ContainerCreateBody, name?: string) => {
      this.record('containers.create', body, name);
      if (!body.Image) throw new InvalidArgument('No image was specified: config.Image is empty');
      const image = this.findImage(body.Image);
      if (name !== undefined) {
        for (const c of this.containerStore.values()) {
          if (c.name === name) {
            throw new Conflict(
              `Conflict. The container name "/${name}" is already in use by container "${c.id}". You have to remove (or rename) that container to be able to reuse that name.`,
            );
          }
        }
      }
      const id = randomBytes(32).toString('hex');
      const c: FakeContainer = {
        id,
        name: name ?? `fake_${id.slice(0, 6)}`,
        body,
        image,
        status: 'created',
        exitCode: 0,
        startedAt: '0001-01-01T00:00:00Z',
        finishedAt: '0001-01-01T00:00:00Z',
        created: new Date(),
        log: [],
        outputListeners: new Set(),
        logFollowers: new Set(),
        exitWaiters: [],
        removeWaiters: [],
        stdin: [],
        stdinClosed: false,
        stdinWaiters: [],
        traps: new Map(),
        runs: 0,
        paused: false,
        pendingSignals: [],
      };
      this.containerStore.set(id, c);
      this.publish(c, 'create');
      return { Id: id, Warnings: [] as string[] };
    },

    start: async (ref: string) => {
      this.record('containers.start', ref);
      const c = this.findContainer(ref);
      if (c.paused) throw new Conflict('cannot start a paused container, try unpause instead');
      if (c.status === 'running') throw new NotModified(`container ${c.id} is already running`);
      c.status = 'running';
      c.startedAt = new Date().toISOString();
      c.runs++;
      this.publish(c, 'start');
      void this.run(c);
    },

    stop: async (ref: string, timeoutSeconds?: number) => {
      this.record('containers.stop', ref, timeoutSeconds);
      const c = this.findContainer(ref);
      if (c.status !== 'running') throw new NotModified(`container ${c.id} is not running`);
      const exited = this.waitExit(c);
      this.signal(c, c.body.StopSignal ? signalName(c.body.StopSignal) : 'SIGTERM');
      this.thawAfter(c, c.body.StopSignal ? signalName(c.body.StopSignal) : 'SIGTERM');
      const timeout = timeoutSeconds ?? c.body.StopTimeout ?? 10;
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), Math.max(0, timeout) * 1000);
        }),
      ]);
      clearTimeout(timer);
      if (!inTime) {
        this.signal(c, 'SIGKILL');
        this.thawAfter(c, 'SIGKILL');
        await exited;
      }
      this.publish(c, 'stop');
    },

    kill: async (ref: string, signal = 'SIGKILL') => {
      this.record('containers.kill', ref, signal);
      const name = signalName(signal);
      const c = this.findContainer(ref);
      if (c.status !== 'running') throw new Conflict(`Container ${c.id} is not running`);
      this.signal(c, name);
      this.thawAfter(c, name);
    },

    restart: async (ref: string, timeoutSeconds?: number) => {
      this.record('containers.restart', ref, timeoutSeconds);
      const c = this.findContainer(ref);
      if (c.status === 'running') await this.containers.stop(c.id, timeoutSeconds);
      await this.containers.start(c.id);
      this.publish(c, 'restart');
    },

    remove: async (ref: string, options: { force?: boolean; volumes?: boolean } = {}) => {
      this.record('containers.remove', ref, options);
      const c = this.findContainer(ref);
      if (c.status === 'running') {
        if (c.paused && !options.force) {
          throw new Conflict(
            `You cannot remove a paused container ${c.id}. Unpause and then stop the container before attempting removal or force remove`,
          );
        }
        if (!options.force) {
          throw new Conflict(`You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`);
        }
        const exited = this.waitExit(c);
        this.signal(c, 'SIGKILL');
        this.thawAfter(c, 'SIGKILL');
        await exited;
      }
      this.destroy(c);
    },

    list: async (options: ContainerListOptions = {}): Promise<ContainerSummary[]> => {
      this.record('containers.list', options);
      const f: Filters = options.filters ?? {};
      for (const key of Object.keys(f)) if (!knownFilterKeys.has(key)) throw new InvalidArgument(`invalid filter '${key}'`);
      // Like docker: a status filter widens `ps` to stopped containers even without -a.
      const everyState = options.all || !!f.status;
      let all = [...this.containerStore.values()].filter((c) => (everyState || c.status === 'running') && this.matches(c, f));
      all.sort((a, b) => b.created.getTime() - a.created.getTime());
      if (options.limit) all = all.slice(0, options.limit);
      return all.map((c) => ({
        Id: c.id,
        Names: [`/${c.name}`],
        Image: String(c.body.Image),
        ImageID: c.image.id,
        Command: this.cmd(c).join(' '),
        Created: Math.floor(c.created.getTime() / 1000),
        Ports: [],
        Labels: c.body.Labels ?? {},
        State: c.paused ? 'paused' : c.status,
        Status: c.paused
          ? 'Up 1 second (Paused)'
          : c.status === 'running'
            ? 'Up 1 second'
            : c.status === 'exited'
              ? `Exited (${c.exitCode}) 1 second ago`
              : 'Created',
        HostConfig: { NetworkMode: 'none' },
        NetworkSettings: { Networks: {} },
        Mounts: [],
      }));
    },

    inspect: async (ref: string): Promise<ContainerInspect> => {
      this.record('containers.inspect', ref);
      const c = this.findContainer(ref);
      const cmd = this.cmd(c);
      return {
        Id: c.id,
        Created: c.created.toISOString(),
        Path: cmd[0] ?? '',
        Args: cmd.slice(1),
        State: {
          Status: c.paused ? 'paused' : c.status,
          Running: c.status === 'running',
          Paused: c.paused,
          Restarting: false,
          OOMKilled: false,
          Dead: false,
          Pid: c.status === 'running' ? 4242 : 0,
          ExitCode: c.exitCode,
          Error: '',
          StartedAt: c.startedAt,
          FinishedAt: c.finishedAt,
        },
        Image: c.image.id,
        ResolvConfPath: '',
        HostnamePath: '',
        HostsPath: '',
        LogPath: '',
        Name: `/${c.name}`,
        RestartCount: 0,
        Driver: 'fakefs',
        Platform: 'linux',
        MountLabel: '',
        ProcessLabel: '',
        AppArmorProfile: '',
        ExecIDs: null,
        HostConfig: { ...(c.body.HostConfig ?? {}), LogConfig: { Type: 'json-file', Config: {} } },
        GraphDriver: { Name: 'fakefs', Data: null },
        Mounts: [],
        Config: { ...c.body, HostConfig: undefined, NetworkingConfig: undefined } as ContainerInspect['Config'],
        NetworkSettings: {
          Bridge: '',
          SandboxID: '',
          SandboxKey: '',
          Ports: {},
          Gateway: '',
          IPAddress: '',
          IPPrefixLen: 0,
          MacAddress: '',
          Networks: {},
        },
      };
    },

    wait: (ref: string, condition: WaitCondition = 'not-running'): Promise<WaitResult> => {
      this.record('containers.wait', ref, condition);
      let c: FakeContainer;
      try {
        c = this.findContainer(ref);
      } catch (err) {
        return Promise.reject(err);
      }
      const result = (code: number): WaitResult => ({ StatusCode: code, Error: null });
      if (condition === 'not-running' && c.status !== 'running') return Promise.resolve(result(c.exitCode));
      return new Promise((resolve) => {
        (condition === 'removed' ? c.removeWaiters : c.exitWaiters).push((code) => resolve(result(code)));
      });
    },

    logs: async (ref: string, options: LogsOptions) => {
      this.record('containers.logs', ref, options);
      const c = this.findContainer(ref);
      return { tty: !!c.body.Tty, lines: this.logLines(c, options) };
    },

    pause: async (ref: string) => {
      this.record('containers.pause', ref);
      const c = this.findContainer(ref);
      if (c.status !== 'running') throw new Conflict(`Container ${c.id} is not running`);
      if (c.paused) throw new Conflict(`Container ${c.id} is already paused`);
      c.paused = true;
      this.publish(c, 'pause');
    },

    unpause: async (ref: string) => {
      this.record('containers.unpause', ref);
      const c = this.findContainer(ref);
      if (!c.paused) throw new Conflict(`Container ${c.id} is not paused`);
      this.thaw(c);
      this.publish(c, 'unpause');
    },

    rename: async (ref: string, newName: string) => {
      this.record('containers.rename', ref, newName);
      if (!newName) throw new InvalidArgument('Neither old nor new names may be empty');
      const name = newName.replace(/^\//, '');
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
        throw new InvalidArgument(`Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      }
      const c = this.findContainer(ref);
      if (c.name === name) throw new InvalidArgument('Renaming a container with the same name as its current name');
      for (const other of this.containerStore.values()) {
        if (other.name === name) {
          throw new Conflict(
            `Conflict. The container name "/${name}" is already in use by container "${other.id}". You have to remove (or rename) that container to be able to reuse that name.`,
          );
        }
      }
      const oldName = c.name;
      c.name = name;
      this.publish(c, 'rename', { oldName: `/${oldName}` });
    },

    update: async (ref: string, changes: ContainerUpdate): Promise<ContainerUpdateResult> => {
      this.record('containers.update', ref, changes);
      const c = this.findContainer(ref);
      const hostConfig = { ...(c.body.HostConfig ?? {}) };
      for (const [key, value] of Object.entries(changes)) {
        if (key === 'RestartPolicy') {
          if (changes.RestartPolicy?.Name) hostConfig.RestartPolicy = { MaximumRetryCount: 0, ...changes.RestartPolicy };
        } else if (value !== undefined && value !== 0 && value !== '' && value !== null) {
          (hostConfig as Record<string, unknown>)[key] = value;
        }
      }
      c.body = { ...c.body, HostConfig: hostConfig };
      this.publish(c, 'update');
      return { Warnings: null };
    },

    top: async (ref: string, psArgs?: string): Promise<ContainerTop> => {
      this.record('containers.top', ref, psArgs);
      const c = this.findContainer(ref);
      if (c.status !== 'running') throw new Conflict(`Container ${c.id} is not running`);
      return {
        Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
        Processes: [['root', '4242', '4240', '0', '12:00', '?', '00:00:00', this.cmd(c).join(' ')]],
      };
    },

    stats: (ref: string, options: StatsOptions): AsyncIterable<ContainerStatsSample> => {
      this.record('containers.stats', ref, options);
      const c = this.findContainer(ref);
      if (options.stream && options.oneShot) throw new InvalidArgument('cannot have stream=true and one-shot=true');
      const sample = (): ContainerStatsSample =>
        fakeStats(c.id, c.name, c.status === 'running' ? c.startedAt : undefined, !options.oneShot);
      return (async function* () {
        yield sample();
        while (options.stream && !options.signal?.aborted) {
          await new Promise((resolve) => setTimeout(resolve, 1000));
          if (!options.signal?.aborted) yield sample();
        }
      })();
    },

    prune: async (filters: Filters = {}): Promise<ContainersPruneReport> => {
      this.record('containers.prune', filters);
      for (const key of Object.keys(filters))
        if (!['until', 'label', 'label!'].includes(key)) throw new InvalidArgument(`Invalid filter '${key}'`);
      const deleted: string[] = [];
      for (const c of [...this.containerStore.values()]) {
        if (c.status === 'running') continue;
        const labels = c.body.Labels ?? {};
        const has = (spec: string) => {
          const eq = spec.indexOf('=');
          return eq < 0 ? spec in labels : labels[spec.slice(0, eq)] === spec.slice(eq + 1);
        };
        if (!(filters.label ?? []).every(has) || (filters['label!'] ?? []).some(has)) continue;
        this.destroy(c);
        deleted.push(c.id);
      }
      this.events.publish('container', 'prune', '', { reclaimed: '0' });
      return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: 0 };
    },

    resize: async (ref: string, height: number, width: number): Promise<void> => {
      this.record('containers.resize', ref, height, width);
      const c = this.findContainer(ref);
      if (c.status !== 'running') throw new Conflict(`Container ${c.id} is not running`);
    },
    attach: async (ref: string, options: AttachOptions): Promise<AttachSession> => {
      this.record('containers.attach', ref, options);
      const c = this.findContainer(ref);
      const listeners = new Set<Listener>();
      let resolveEnded!: () => void;
      const ended = new Promise<void>((r) => (resolveEnded = r));
      const relay: Listener = (s, d) => {
        for (const l of listeners) l(s, d);
      };
      const end = () => {
        c.outputListeners.delete(relay);
        exitHook();
        resolveEnded();
      };
      c.outputListeners.add(relay);
      const exitHook = this.onExitOnce(c, end);
      if (options.logs || !options.stream)
        setImmediate(() => {
          if (options.logs) for (const l of c.log) relay(l.stream, l.data);
          if (!options.stream) end(); // the log replayed (or nothing asked for): the session is over
        });
      const engine = this;
      const session: AttachSession = {
        tty: !!c.body.Tty,
        onOutput(listener) {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
        ended,
        writeStdin(data) {
          engine.record('session.writeStdin', data.toString());
          c.stdin.push(data);
          for (const w of c.stdinWaiters.splice(0)) w();
        },
        closeStdin() {
          engine.record('session.closeStdin');
          c.stdinClosed = true;
          for (const w of c.stdinWaiters.splice(0)) w();
        },
        detach() {
          engine.record('session.detach');
          end();
        },
      };
      this.publish(c, 'attach');
      return session;
    },
  };

  /**
   * A container's filesystem, faked: every container has changed `/tmp` and added
   * `/tmp/x`; its only paths are `/`, `/etc` and `/etc/hostname`; export and archive
   * answer `fake-tar` bytes; an upload's bytes land in `lastUpload`.
   */
  readonly filesystems = {
    changes: async (ref: string): Promise<ContainerChangeEntry[]> => {
      this.record('filesystems.changes', ref);
      this.findContainer(ref);
      return [
        { Path: '/tmp', Kind: 0 },
        { Path: '/tmp/x', Kind: 1 },
      ];
    },
    export: async (ref: string): Promise<Readable> => {
      this.record('filesystems.export', ref);
      this.findContainer(ref);
      return Readable.from([Buffer.from('fake-tar')]);
    },
    commit: async (ref: string, options: CommitOptions): Promise<string> => {
      this.record('filesystems.commit', ref, options);
      const c = this.findContainer(ref);
      const image = this.addImage(options.repo ? `${options.repo}:${options.tag || 'latest'}` : `committed-${c.id}`);
      return image.id;
    },
    statPath: async (ref: string, p: string): Promise<ContainerPathStat> => {
      this.record('filesystems.statPath', ref, p);
      return this.fakeStat(ref, p);
    },
    getArchive: async (ref: string, p: string): Promise<{ stat: ContainerPathStat; tar: Readable }> => {
      this.record('filesystems.getArchive', ref, p);
      return { stat: this.fakeStat(ref, p), tar: Readable.from([Buffer.from('fake-tar')]) };
    },
    putArchive: async (ref: string, p: string, tar: Readable, options?: PutArchiveOptions): Promise<void> => {
      this.record('filesystems.putArchive', ref, p, options);
      const stat = this.fakeStat(ref, p);
      if (!(stat.mode & (2 ** 31))) throw new InvalidArgument(`extraction point is not a directory: ${p}`);
      const chunks: Buffer[] = [];
      for await (const chunk of tar) {
        // As a refused tar does: stop reading (which destroys the stream) and throw.
        if (p === '/refuse') throw new InvalidArgument('refused after the first chunk');
        chunks.push(chunk as Buffer);
      }
      this.lastUpload = Buffer.concat(chunks);
    },
  };

  private fakeStat(ref: string, p: string): ContainerPathStat {
    const c = this.findContainer(ref);
    const mtime = '2026-01-02T03:04:05Z';
    if (p === '/' || p === '/etc' || p === '/refuse')
      return { name: p === '/' ? '/' : p.slice(1), size: 4096, mode: 2 ** 31 + 0o755, mtime, linkTarget: '' };
    if (p === '/etc/hostname') return { name: 'hostname', size: 13, mode: 0o644, mtime, linkTarget: '' };
    throw new NotFound(`Could not find the file ${p} in container ${c.name}`);
  }

  /** The fake runs no processes beside a container's script: exec is the real engine's (test/e2e). */
  /** Networks by id: enough for the routes' wiring (the engine's own tests cover the semantics). */
  readonly networkTable = new Map<string, NetworkInspect>();
  readonly networks = {
    create: async (request: NetworkCreateRequest) => {
      this.record('networks.create', request);
      const Id = randomBytes(32).toString('hex');
      this.networkTable.set(Id, {
        Name: request.Name,
        Id,
        Created: new Date().toISOString(),
        Scope: 'local' as const,
        Driver: request.Driver || 'bridge',
        EnableIPv6: false,
        IPAM: { Driver: 'default', Options: {}, Config: [] },
        Internal: !!request.Internal,
        Attachable: false,
        Ingress: false,
        ConfigFrom: { Network: '' },
        ConfigOnly: false,
        Containers: {},
        Options: request.Options ?? {},
        Labels: request.Labels ?? {},
      });
      return { Id, Warning: '' };
    },
    list: (filters?: Filters) => {
      this.record('networks.list', filters);
      return [...this.networkTable.values()];
    },
    inspect: (ref: string) => {
      const found = [...this.networkTable.values()].find((n) => n.Id === ref || n.Name === ref);
      if (!found) throw new NotFound(`network ${ref} not found`);
      return found;
    },
    remove: async (ref: string) => {
      this.networkTable.delete(this.networks.inspect(ref).Id);
    },
    prune: async (filters?: Filters) => {
      this.record('networks.prune', filters);
      const names = [...this.networkTable.values()].map((n) => n.Name);
      this.networkTable.clear();
      return { NetworksDeleted: names };
    },
    connect: async (ref: string, request: NetworkConnectRequest) => {
      this.record('networks.connect', { ref, ...request });
      this.networks.inspect(ref);
    },
    disconnect: async (ref: string, request: NetworkDisconnectRequest) => {
      this.record('networks.disconnect', { ref, ...request });
      this.networks.inspect(ref);
    },
  };

  readonly volumeTable = new Map<string, Volume>();
  readonly volumes = {
    create: async (request: VolumeCreateBody): Promise<Volume> => {
      this.record('volumes.create', request);
      const name = request.Name || randomBytes(32).toString('hex');
      const volume: Volume = {
        Name: name,
        Driver: request.Driver || 'local',
        Mountpoint: `/var/lib/berth/volumes/${name}/_data`,
        CreatedAt: new Date().toISOString(),
        Labels: request.Labels ?? {},
        Scope: 'local',
        Options: request.DriverOpts ?? {},
      };
      this.volumeTable.set(name, volume);
      return volume;
    },
    list: async (filters?: Filters) => {
      this.record('volumes.list', filters);
      return { Volumes: [...this.volumeTable.values()], Warnings: null };
    },
    inspect: async (name: string) => {
      const found = this.volumeTable.get(name);
      if (!found) throw new NotFound(`get ${name}: no such volume`);
      return found;
    },
    remove: async (name: string, force?: boolean) => {
      this.record('volumes.remove', { name, force });
      if (!this.volumeTable.delete(name) && !force) throw new NotFound(`get ${name}: no such volume`);
    },
    prune: async (filters?: Filters) => {
      this.record('volumes.prune', filters);
      const names = [...this.volumeTable.keys()];
      this.volumeTable.clear();
      return { VolumesDeleted: names.length > 0 ? names : null, SpaceReclaimed: 0 };
    },
    diskUsage: async () => [...this.volumeTable.values()].map((v) => ({ ...v, UsageData: { Size: 0, RefCount: 0 } })),
  };

  /** What the fake build answers: a failure to throw (after `streamed` lines of output), or success. */
  buildOutcome: { fail?: Error & { exitCode?: number }; streamed?: number } = {};
  lastBuildBody?: Buffer;
  readonly builds = {
    build: async (request: BuildRequest): Promise<{ imageId: string }> => {
      const { output, body, signal: _signal, ...rest } = request;
      this.record('builds.build', rest);
      const chunks: Buffer[] = [];
      if (body) for await (const chunk of body) chunks.push(chunk as Buffer);
      this.lastBuildBody = Buffer.concat(chunks);
      const id = `sha256:${createHash('sha256').update(this.lastBuildBody).digest('hex')}`;
      const lines = ['Step 1/1 : FROM busybox\n', ` ---> ${this.findImage('busybox').id.slice(7, 19)}\n`];
      const { fail, streamed = lines.length } = this.buildOutcome;
      for (const line of lines.slice(0, fail ? streamed : lines.length)) output.stream(line);
      if (fail) throw fail;
      output.aux({ ID: id });
      output.stream(`Successfully built ${id.slice(7, 19)}\n`);
      for (const tag of request.tags) output.stream(`Successfully tagged ${tag}\n`);
      return { imageId: id };
    },
    diskUsage: async () => [],
    prune: async (options: { all?: boolean; keepStorage?: number; filters?: Filters }) => {
      this.record('builds.prune', options);
      return { CachesDeleted: null, SpaceReclaimed: 0 };
    },
  };

  readonly execs = {
    create: async (): Promise<{ Id: string }> => {
      throw new NotImplemented('the fake engine runs no execs');
    },
    start: async (): Promise<AttachSession | undefined> => {
      throw new NotImplemented('the fake engine runs no execs');
    },
    inspect: async (id: string): Promise<ExecInspect> => {
      throw new NotFound(`No such exec instance: ${id}`);
    },
    resize: async (): Promise<void> => {
      throw new NotImplemented('the fake engine runs no execs');
    },
  };

  readonly images = {
    list: async (options: { all?: boolean; filters?: Record<string, string[]> } = {}): Promise<ImageSummary[]> => {
      this.record('images.list', options);
      let all = [...this.imageStore.values()];
      const ref = options.filters?.reference;
      if (ref) all = all.filter((i) => i.tags.some((t) => ref.some((r) => t === familiar(r) || t.startsWith(`${r}:`))));
      return all.map((i) => ({
        Id: i.id,
        ParentId: '',
        RepoTags: i.tags,
        RepoDigests: null,
        Created: i.created,
        Size: i.size,
        VirtualSize: i.size,
        SharedSize: -1,
        Labels: null,
        Containers: -1,
      }));
    },
    inspect: async (ref: string): Promise<ImageInspect> => {
      this.record('images.inspect', ref);
      let i: FakeImage;
      try {
        i = this.findImage(ref);
      } catch {
        throw new NotFound(`no such image: ${ref}: No such image: ${familiar(ref)}`);
      }
      return {
        Id: i.id,
        RepoTags: i.tags,
        RepoDigests: [],
        Parent: '',
        Comment: '',
        Created: new Date(i.created * 1000).toISOString(),
        Container: '',
        ContainerConfig: {},
        DockerVersion: '',
        Author: '',
        Config: i.config,
        Architecture: 'amd64',
        Os: 'linux',
        Size: i.size,
        VirtualSize: i.size,
        GraphDriver: { Name: 'fakefs', Data: null },
        RootFS: { Type: 'layers', Layers: [] },
        Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
      };
    },
    history: async (ref: string) => {
      this.record('images.history', ref);
      const i = this.findImage(ref);
      return [{ Id: i.id, Created: i.created, CreatedBy: '', Tags: i.tags, Size: i.size, Comment: 'Imported from -' }];
    },
    tag: async (ref: string, repo: string, tag?: string) => {
      this.record('images.tag', ref, repo, tag);
      const i = this.findImage(ref);
      i.tags.push(familiar(`${repo}:${tag ?? 'latest'}`));
      this.events.publish('image', 'tag', i.id, { name: familiar(`${repo}:${tag ?? 'latest'}`) });
    },
    remove: async (ref: string, options: { force?: boolean; noprune?: boolean } = {}): Promise<ImageDeleteEntry[]> => {
      this.record('images.remove', ref, options);
      const i = this.findImage(ref);
      const want = familiar(ref);
      if (i.tags.includes(want) && i.tags.length > 1) {
        i.tags = i.tags.filter((t) => t !== want);
        this.events.publish('image', 'untag', i.id, { name: want });
        return [{ Untagged: want }];
      }
      if (!i.tags.includes(want) && i.tags.length > 1 && !options.force) {
        throw new Conflict(
          `conflict: unable to delete ${i.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
        );
      }
      this.imageStore.delete(i.id);
      for (const t of i.tags) this.events.publish('image', 'untag', i.id, { name: t });
      this.events.publish('image', 'delete', i.id, { name: i.id });
      return [...i.tags.map((t) => ({ Untagged: t })), { Deleted: i.id }];
    },
    import: async (tar: Readable, options: ImportOptions) => {
      this.record('images.import', options);
      if (this.importRefusesAfter !== undefined) {
        // As the real tar reader: read a little, give up, destroy what it read from.
        let seen = 0;
        for await (const chunk of tar) {
          seen += (chunk as Buffer).length;
          if (seen >= this.importRefusesAfter) break;
        }
        throw new InvalidArgument('invalid tar: header checksum mismatch at byte 0');
      }
      const data = await readAll(tar);
      this.lastUpload = data;
      const id = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      this.imageStore.set(id, { id, tags: options.repo ? [familiar(options.repo)] : [], created: 1, size: data.length, config: {} });
      return id;
    },
    load: async (tar: Readable) => {
      this.record('images.load');
      this.lastUpload = await readAll(tar);
      if (this.lastUpload.length === 0) throw new Conflict('empty archive');
      return this.loadNames;
    },
    prune: async (filters?: Filters): Promise<ImagesPruneReport> => {
      this.record('images.prune', filters ?? {});
      const all = (filters?.dangling ?? ['true']).includes('false');
      const gone = [...this.imageStore.values()].filter((i) => all || i.tags.length === 0);
      for (const i of gone) this.imageStore.delete(i.id);
      const deleted = gone.flatMap((i) => [...i.tags.map((t) => ({ Untagged: t })), { Deleted: i.id }]);
      return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: gone.reduce((n, i) => n + i.size, 0) };
    },
    diskUsage: async (): Promise<ImagesDiskUsage> => {
      this.record('images.diskUsage');
      const images = [...this.imageStore.values()];
      return {
        LayersSize: images.reduce((n, i) => n + i.size, 0),
        Images: images.map((i) => ({
          Id: i.id,
          ParentId: '',
          RepoTags: i.tags,
          RepoDigests: null,
          Created: i.created,
          Size: i.size,
          VirtualSize: i.size,
          SharedSize: 0,
          Labels: null,
          Containers: [...this.containerStore.values()].filter((c) => c.body.Image === i.tags[0] || c.body.Image === i.id).length,
        })),
      };
    },
    save: async (refs: string[]) => {
      this.record('images.save', refs);
      const ids = refs.map((r) => this.findImage(r).id);
      return Readable.from([Buffer.from(`TAR:${ids.join(',')}:`), Buffer.alloc(100_000, 0x61)]);
    },
    /** `unknown*` fails before any progress (as an unknown manifest does); `broken*` after the first line. */
    pull: async (ref: string, options: PullOptions) => {
      this.record('images.pull', ref, { platform: options.platform, allTags: options.allTags, auth: options.auth });
      if (/(^|\/)unknown/.test(ref))
        throw new NotFound(`manifest for ${ref.replace(/^docker\.io\/library\//, '')} not found: manifest unknown: manifest unknown`);
      options.progress({ status: `Pulling from ${ref}`, id: 'latest' });
      if (ref.startsWith('broken')) throw new SystemError('connection reset by the registry');
      options.progress({ status: 'Digest: sha256:0000000000000000000000000000000000000000000000000000000000000000' });
      options.progress({ status: `Status: Downloaded newer image for ${ref}` });
    },
    push: async (ref: string, options: PushOptions) => {
      this.record('images.push', ref, { auth: options.auth });
      options.progress({ status: `The push refers to repository [${ref}]` });
      if (ref.startsWith('denied')) throw new Forbidden('denied: requested access to the resource is denied');
      options.progress({ status: 'latest: digest: sha256:00 size: 1' });
    },
    login: async (auth: RegistryAuth) => {
      this.record('images.login', auth);
      if (auth.password !== 'right')
        throw new Unauthorized(`login attempt to http://${auth.serveraddress}/v2/ failed with status: 401 Unauthorized`);
      return { Status: 'Login Succeeded' };
    },
  };

  private publish(c: FakeContainer, action: string, attributes: Record<string, string> = {}): void {
    this.events.publish('container', action, c.id, { ...attributes, image: String(c.body.Image), name: c.name });
  }

  /** As the real engine: a paused container is thawed after SIGKILL or its stop signal. */
  private thawAfter(c: FakeContainer, name: string): void {
    const stopSignal = c.body.StopSignal ? signalName(c.body.StopSignal) : 'SIGTERM';
    if (c.paused && (name === 'SIGKILL' || name === stopSignal)) this.thaw(c);
  }

  /** Unfreeze: the signals sent while frozen land now. */
  private thaw(c: FakeContainer): void {
    c.paused = false;
    for (const name of c.pendingSignals.splice(0)) this.deliver(c, name);
  }

  /** Send a signal as runc would to PID 1, publishing `kill` with its number as dockerd does; a frozen process gets it at thaw. */
  private signal(c: FakeContainer, name: string): void {
    this.publish(c, 'kill', { signal: String(osConstants.signals[name as keyof typeof osConstants.signals]) });
    if (c.paused) c.pendingSignals.push(name);
    else this.deliver(c, name);
  }

  /** What a signal does to PID 1 of a namespace: SIGKILL ends it, a trapped one runs the trap, any other is ignored. */
  private deliver(c: FakeContainer, name: string): void {
    if (name === 'SIGKILL') c.stopRun?.(137);
    else if (c.traps.has(name)) c.stopRun?.(c.traps.get(name)!);
  }

  private matches(c: FakeContainer, filters: Filters): boolean {
    const one = (key: string, value: string): boolean => {
      switch (key) {
        case 'id':
          return c.id.startsWith(value);
        case 'name':
          try {
            return new RegExp(value).test(`/${c.name}`);
          } catch {
            return c.name.includes(value);
          }
        case 'status':
          return c.status === value;
        case 'exited':
          return c.status === 'exited' && String(c.exitCode) === value;
        case 'label': {
          const eq = value.indexOf('=');
          const labels = c.body.Labels ?? {};
          return eq < 0 ? value in labels : labels[value.slice(0, eq)] === value.slice(eq + 1);
        }
        case 'ancestor':
          return c.body.Image === value || c.image.id === value || c.image.tags.includes(familiar(value));
        default:
          return true;
      }
    };
    return Object.entries(filters).every(([key, values]) => values.length === 0 || values.some((v) => one(key, v)));
  }

  private cmd(c: FakeContainer): string[] {
    const cmd = c.body.Cmd ?? c.image.config.Cmd ?? [];
    return typeof cmd === 'string' ? [cmd] : cmd;
  }

  private onExitOnce(c: FakeContainer, fn: () => void): () => void {
    let active = true;
    c.exitWaiters.push(() => {
      if (active) fn();
    });
    return () => {
      active = false;
    };
  }

  private waitExit(c: FakeContainer): Promise<void> {
    if (c.status !== 'running') return Promise.resolve();
    return new Promise((resolve) => c.exitWaiters.push(() => resolve()));
  }

  private emit(c: FakeContainer, stream: 'stdout' | 'stderr', text: string): void {
    const data = Buffer.from(c.body.Tty ? text.replace(/\n/g, '\r\n') : text);
    c.log.push({ stream, data, time: nowRfc3339Nano() });
    for (const l of c.outputListeners) l(stream, data);
    for (const f of c.logFollowers) f();
  }

  private async run(c: FakeContainer): Promise<void> {
    const cmd = this.cmd(c);
    const script = cmd[0] === 'sh' && cmd[1] === '-c' ? (cmd[2] ?? '') : cmd.join(' ');
    let stopped: number | undefined;
    const stopWait = new Promise<number>((resolve) => {
      c.stopRun = (code) => {
        stopped = code;
        resolve(code);
      };
    });
    c.traps = new Map();
    // Output comes a little after start, as from a real process.
    await new Promise((r) => setTimeout(r, 20));
    let code = 0;
    for (const raw of script.split(';')) {
      if (stopped !== undefined) break;
      // `sleep 30 & wait` is a sleep a trap interrupts, which every fake sleep is.
      const stmt = raw.trim().replace(/\s*&\s*wait$/, '');
      if (stmt === '') continue;
      const trap = /^trap\s+(["'])exit (\d+)\1\s+(.+)$/.exec(stmt);
      if (trap) {
        for (const sig of trap[3]!.trim().split(/\s+/)) c.traps.set(signalName(sig), Number(trap[2]));
        continue;
      }
      const [word, ...rest] = stmt.split(/\s+/);
      if (word === 'echo') {
        const toErr = rest[rest.length - 1] === '>&2';
        const words = toErr ? rest.slice(0, -1) : rest;
        this.emit(c, toErr ? 'stderr' : 'stdout', `${words.join(' ').replace(/^'(.*)'$/, '$1')}\n`);
      } else if (word === 'exit') {
        code = Number(rest[0] ?? 0);
        break;
      } else if (word === 'sleep') {
        const secs = rest[0] === 'inf' ? Infinity : Number(rest[0]);
        let timer: NodeJS.Timeout | undefined;
        const slept = Number.isFinite(secs) ? [new Promise((r) => (timer = setTimeout(r, secs * 1000)))] : [];
        await Promise.race([stopWait, ...slept]);
        // A sleep cut short by a signal must not keep the test process alive until it would have ended.
        clearTimeout(timer);
      } else if (word === 'cat') {
        for (;;) {
          while (c.stdin.length > 0) this.emit(c, 'stdout', c.stdin.shift()!.toString());
          if (c.stdinClosed || stopped !== undefined) break;
          await Promise.race([stopWait, new Promise<void>((r) => c.stdinWaiters.push(r))]);
        }
      } else {
        this.emit(c, 'stderr', `sh: ${word}: not found\n`);
        code = 127;
        break;
      }
    }
    this.exit(c, stopped ?? code);
  }

  private exit(c: FakeContainer, code: number): void {
    c.status = 'exited';
    c.exitCode = code;
    c.finishedAt = new Date().toISOString();
    c.stopRun = undefined;
    this.publish(c, 'die', { exitCode: String(code) });
    for (const w of c.exitWaiters.splice(0)) w(code);
    for (const f of c.logFollowers) f();
    if (c.body.HostConfig?.AutoRemove) setTimeout(() => this.destroy(c), 5);
  }

  private destroy(c: FakeContainer): void {
    if (!this.containerStore.delete(c.id)) return;
    this.publish(c, 'destroy');
    // The container will not run again: every waiter gets its last exit, as from the real engine.
    for (const w of [...c.exitWaiters.splice(0), ...c.removeWaiters.splice(0)]) w(c.exitCode);
  }

  private async *logLines(c: FakeContainer, requested: LogsOptions): AsyncIterable<LogLine> {
    // A stream left unset is included, as the real engine reads LogsOptions.
    const options = { ...requested, stdout: requested.stdout !== false, stderr: requested.stderr !== false };
    let lines = c.log.filter((l) => (l.stream === 'stdout' ? options.stdout : options.stderr));
    if (options.tail !== undefined && options.tail !== 'all') lines = options.tail === 0 ? [] : lines.slice(-options.tail);
    let index = c.log.length;
    yield* lines;
    if (!options.follow) return;
    for (;;) {
      while (index < c.log.length) {
        const l = c.log[index++]!;
        if (l.stream === 'stdout' ? options.stdout : options.stderr) yield l;
      }
      if (c.status !== 'running' || options.signal?.aborted) return;
      await new Promise<void>((resolve) => {
        const wake = () => {
          c.logFollowers.delete(wake);
          options.signal?.removeEventListener('abort', wake);
          resolve();
        };
        c.logFollowers.add(wake);
        options.signal?.addEventListener('abort', wake);
      });
    }
  }
}

/**
 * A stats sample in Docker's shape, zeroed for a container that does not run (no
 * `startedAt`); with `precpu`, a previous reading from the start of the run, as the
 * engine's first sample of a run has.
 */
function fakeStats(id: string, name: string, startedAt: string | undefined, precpu: boolean): ContainerStatsSample {
  const running = startedAt !== undefined;
  const cpu = (total: number, system: number | undefined) => ({
    cpu_usage: { total_usage: total, usage_in_kernelmode: 0, usage_in_usermode: total },
    system_cpu_usage: system,
    online_cpus: system === undefined ? undefined : 2,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  const blkio = running ? [{ major: 8, minor: 0, op: 'read', value: 0 }] : null;
  const now = Date.now();
  const earlier = running && precpu;
  return {
    read: running ? new Date(now).toISOString() : '0001-01-01T00:00:00Z',
    preread: earlier && startedAt ? startedAt : '0001-01-01T00:00:00Z',
    name: `/${name}`,
    id,
    num_procs: 0,
    pids_stats: running ? { current: 1 } : {},
    cpu_stats: running ? cpu(2e6, 1e12) : cpu(0, undefined),
    precpu_stats: earlier ? cpu(1e6, 1e12 - 2e9) : cpu(0, undefined),
    memory_stats: running ? { usage: 1 << 20, limit: 1 << 30, stats: {} } : {},
    blkio_stats: {
      io_service_bytes_recursive: blkio,
      io_serviced_recursive: blkio,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    storage_stats: {},
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}
