import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import type { PluginStatus, StorageDriver, SystemInfo, VersionInfo } from '@berth/core';
import type { ResolvedEngineConfig } from '../config.js';

/** The Docker API version berth speaks, and the oldest it accepts. */
export const apiVersion = '1.41';
export const minApiVersion = '1.12';

const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/** Facts about the host and the daemon for `/version` and `/info`, computed once where they cannot change. */
export class SystemService {
  private readonly osName = readOsName();
  private readonly cgroupVersion = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1';

  constructor(
    private readonly config: ResolvedEngineConfig,
    private readonly statuses: PluginStatus[],
    private readonly storage: StorageDriver,
  ) {}

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
    const lines = this.statuses
      .filter((s) => s.status !== 'ok' && !s.reason.startsWith('not selected'))
      .map((s) => `berth plugin ${s.kind}/${s.name} ${s.status}: ${s.reason}`);
    return lines.length ? lines : null;
  }

  async info(
    counts: { running: number; paused: number; stopped: number; images: number },
    runtimes: Record<string, { path: string }>,
  ): Promise<SystemInfo> {
    const v1 = this.cgroupVersion === '1';
    const ok = (kind: string) => this.statuses.filter((s) => s.kind === kind && s.status === 'ok').map((s) => s.name);
    return {
      ID: '',
      Containers: counts.running + counts.paused + counts.stopped,
      ContainersRunning: counts.running,
      ContainersPaused: counts.paused,
      ContainersStopped: counts.stopped,
      Images: counts.images,
      Driver: this.storage.name,
      DriverStatus: await this.storage.status(),
      Plugins: { Volume: ok('volume'), Network: ok('network'), Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: v1 ? existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') : true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      PidsLimit: true,
      OomKillDisable: v1,
      IPv4Forwarding: readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1',
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
      NCPU: os.cpus().length,
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
      BerthPlugins: this.statuses,
    };
  }
}

function readOsName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m ? m[1] : 'Linux';
  } catch {
    return 'Linux';
  }
}
