import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type DriverRegistry,
  type DriverStatus,
  inject,
  injectable,
  type PluginStatus,
  type Runtime,
  RuntimesToken,
  type StorageDriver,
  StorageDriverToken,
  type SystemInfo,
  token,
  type VersionInfo,
  writeFileAtomic,
} from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { type ImageQueries, ImageQueriesToken } from '../images/image-queries.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';

/** The state of every plugin offered to the engine, as `berth plugins ls` shows it; live, as drivers may be added later. */
export interface PluginStatusSource {
  statuses(): PluginStatus[];
}

export const PluginStatusSourceToken = token<PluginStatusSource>('PluginStatusSource');

/** The Docker API version berth speaks, and the oldest it accepts. */
export const apiVersion = '1.41';
export const minApiVersion = '1.12';

const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/** How long the storage driver's status is reused: it describes the backing filesystem, which does not change under a running daemon. */
const storageStatusTtlMs = 10_000;

/**
 * Facts about the host and the daemon for `/version` and `/info`. What cannot change
 * while the daemon runs is computed once (OS name, cgroup version, CPU count, as
 * dockerd reads `runtime.NumCPU()` once) or once per runtime (its path: `describe()`
 * spawns the runtime binary); the storage driver's status is reused for 10 s; and
 * concurrent `info()` calls share one computation, so a burst of `docker info` costs
 * what one does and never stalls the daemon.
 */
@injectable()
export class SystemService {
  private readonly osName = readOsName();
  private readonly cgroupVersion = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1';
  private readonly swapLimit = this.cgroupVersion === '1' ? existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') : true;
  private readonly cpuCount = os.availableParallelism();
  /** Each runtime's path, by runtime object: a runtime added later gets its own entry. */
  private readonly runtimePaths = new WeakMap<Runtime, Promise<string>>();
  private storageStatus: { at: number; value: Promise<DriverStatus> } | undefined;
  private pendingInfo: Promise<SystemInfo> | undefined;
  private engineId: string | undefined;

  constructor(
    @inject(EngineConfigToken) private readonly config: ResolvedEngineConfig,
    @inject(PluginStatusSourceToken) private readonly plugins: PluginStatusSource,
    @inject(StorageDriverToken) private readonly storage: StorageDriver,
    @inject(ContainerStoreToken) private readonly containers: ContainerStore,
    @inject(ImageQueriesToken) private readonly images: ImageQueries,
    @inject(RuntimesToken) private readonly runtimes: DriverRegistry<Runtime>,
  ) {}

  /** Every plugin offered, with its status and reason. */
  pluginStatuses(): PluginStatus[] {
    return this.plugins.statuses();
  }

  version(): VersionInfo {
    return {
      Platform: { Name: 'berth' },
      Components: [
        {
          Name: 'Engine',
          Version: this.config.serverVersion,
          Details: {
            ApiVersion: apiVersion,
            MinAPIVersion: minApiVersion,
            Os: 'linux',
            Arch: goArch[process.arch] ?? process.arch,
            KernelVersion: os.release(),
          },
        },
      ],
      Version: this.config.serverVersion,
      ApiVersion: apiVersion,
      MinAPIVersion: minApiVersion,
      GitCommit: '',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: goArch[process.arch] ?? process.arch,
      KernelVersion: os.release(),
      BuildTime: '',
    };
  }

  /**
   * `docker info` prints the daemon's warnings, so a plugin that could not serve this
   * host shows there with its reason (storage drivers merely not chosen do not).
   */
  private pluginWarnings(): string[] | null {
    const lines = this.plugins
      .statuses()
      .filter((s) => s.status !== 'ok' && !s.reason.startsWith('not selected'))
      .map((s) => `berth plugin ${s.kind}/${s.name} ${s.status}: ${s.reason}`);
    return lines.length ? lines : null;
  }

  /**
   * The engine's own id (`/info`'s ID, which clients use to tell daemons apart): made once
   * per data root and kept in `<data-root>/engine-id`, so it survives restarts as dockerd's.
   * `createEngine` asks for it at start, so serving `/info` never writes anything.
   */
  async id(): Promise<string> {
    if (this.engineId) return this.engineId;
    const file = path.join(this.config.dataRoot, 'engine-id');
    let id: string | undefined;
    try {
      id = readFileSync(file, 'utf8').trim() || undefined;
    } catch {}
    if (!id) {
      id = randomUUID();
      await writeFileAtomic(file, `${id}\n`, 0o644);
    }
    this.engineId = id;
    return id;
  }

  /** `/info`. Callers that arrive while one is being computed get that one's answer. */
  info(): Promise<SystemInfo> {
    this.pendingInfo ??= this.computeInfo().finally(() => {
      this.pendingInfo = undefined;
    });
    return this.pendingInfo;
  }

  private runtimePath(runtime: Runtime): Promise<string> {
    let path = this.runtimePaths.get(runtime);
    if (!path) {
      path = runtime.describe().then((d) => d.path);
      this.runtimePaths.set(runtime, path);
      // A failure is not remembered: the next call asks again.
      path.catch(() => this.runtimePaths.delete(runtime));
    }
    return path;
  }

  private driverStatus(): Promise<DriverStatus> {
    const now = Date.now();
    if (!this.storageStatus || now - this.storageStatus.at > storageStatusTtlMs) {
      const value = this.storage.status();
      this.storageStatus = { at: now, value };
      value.catch(() => {
        if (this.storageStatus?.value === value) this.storageStatus = undefined;
      });
    }
    return this.storageStatus.value;
  }

  private async computeInfo(): Promise<SystemInfo> {
    const all = this.containers.all();
    const running = all.filter((r) => r.state.Running && !r.state.Paused).length;
    const paused = all.filter((r) => r.state.Paused).length;
    const counts = { running, paused, stopped: all.length - running - paused, images: await this.images.count() };
    const runtimes: Record<string, { path: string }> = {};
    for (const [name, runtime] of this.runtimes) runtimes[name] = { path: await this.runtimePath(runtime) };
    const statuses = this.plugins.statuses();
    const v1 = this.cgroupVersion === '1';
    const ok = (kind: string) => statuses.filter((s) => s.kind === kind && s.status === 'ok').map((s) => s.name);
    return {
      ID: await this.id(),
      ExperimentalBuild: false,
      Containers: counts.running + counts.paused + counts.stopped,
      ContainersRunning: counts.running,
      ContainersPaused: counts.paused,
      ContainersStopped: counts.stopped,
      Images: counts.images,
      Driver: this.storage.name,
      DriverStatus: [...(await this.driverStatus()), ...chosenBecause(statuses, this.storage.name)],
      Plugins: { Volume: ok('volume'), Network: ok('network'), Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: this.swapLimit,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      PidsLimit: true,
      OomKillDisable: v1,
      IPv4Forwarding: (await fs.readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim() === '1',
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: this.cgroupVersion,
      KernelVersion: os.release(),
      OperatingSystem: this.osName,
      OSType: 'linux',
      Architecture: os.machine(),
      NCPU: this.cpuCount,
      MemTotal: os.totalmem(),
      DockerRootDir: this.config.dataRoot,
      Name: os.hostname(),
      Labels: [],
      ServerVersion: this.config.serverVersion,
      Runtimes: runtimes,
      DefaultRuntime: this.config.defaultRuntime,
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive' },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: '',
      SecurityOptions: ['name=seccomp,profile=builtin', 'name=no-new-privileges'],
      Warnings: this.pluginWarnings(),
      BerthPlugins: statuses,
    };
  }
}

/** `docker info`'s word on why this storage driver runs here (its plugin status's `chosen: …` reason). */
function chosenBecause(statuses: readonly PluginStatus[], name: string): DriverStatus {
  const reason = statuses.find((s) => s.kind === 'storage' && s.name === name && s.status === 'ok')?.reason ?? '';
  return reason.startsWith('chosen: ') ? [['Chosen because', reason.slice('chosen: '.length)]] : [];
}

export const SystemServiceToken = token<SystemService>('SystemService');

function readOsName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m ? m[1] : 'Linux';
  } catch {
    return 'Linux';
  }
}
