import { type AnyPluginManifest, type Logger, pluginKindTable, type ServiceContainer, token } from '@berth/core';

/** What `createEngine` needs. The daemon builds it from flags and daemon.json; an embedder writes it. */
export interface EngineConfig {
  /** Persistent state: images, containers, storage. Default `/var/lib/berth`. */
  dataRoot: string;
  /** State that dies with the host: shim sockets, runtime state. Default `/run/berth`. */
  execRoot: string;
  /** The storage driver to use; when absent, the one whose state the data root holds, else the first that works. */
  storageDriver?: string;
  /**
   * The runtime for containers that name none. Without it: `crun` when its plugin runs
   * on this host (it starts a container in about half of runc's time), else `runc`.
   */
  defaultRuntime?: string;
  /** The cgroup every container's cgroup lives under. Default `berth`. */
  cgroupParent?: string;
  /** The plugins to offer, an explicit list: nothing registers itself by being imported. */
  plugins: AnyPluginManifest[];
  /** Per-plugin configuration, keyed `<kind>/<name>` (`runtime/runc`). */
  pluginConfig?: Record<string, Record<string, unknown>>;
  logger?: Logger;
  /** The log driver of containers that name none (daemon.json `log-driver`): `json-file` (default) or `none`. */
  logDriver?: string;
  /** Its options for them (daemon.json `log-opts`: `max-size`, `max-file`); berth rotates at 10 MiB × 3 without. */
  logOpts?: Record<string, string>;
  /**
   * The default network `bridge` (Docker's docker0): its bridge's name (daemon.json
   * `bridge`, default `berth0`) and its gateway address with prefix (daemon.json `bip`,
   * `172.17.0.1/16` style; without it the first free subnet of the address pools).
   * Each daemon on one host needs its own name and subnet.
   */
  defaultBridge?: { name?: string; bip?: string };
  /** Where networks without `--subnet` get theirs (daemon.json `default-address-pools`); Docker's pools by default. */
  defaultAddressPools?: Array<{ base: string; size: number }>;
  /** The version berthd reports. */
  serverVersion?: string;
  /** How pulls and pushes reach registries (daemon.json `insecure-registries`, `registry-mirrors`, `max-concurrent-*`). */
  registry?: RegistryConfig;
  /**
   * Register your own implementation of any token before anything is resolved: the
   * engine fills in its defaults only for tokens left unregistered. For example
   * `configure: (di) => di.register(EventBusToken, { useValue: myBus })`.
   */
  configure?: (di: ServiceContainer) => void;
}

/** Registry access: which registries may be plain HTTP, Docker Hub's mirrors, transfer concurrency. */
export interface RegistryConfig {
  /** `host[:port]` or IPv4 CIDRs reached over plain HTTP (loopback always is). */
  insecureRegistries?: string[];
  /** Docker Hub mirrors (`https://mirror.example`), tried in order before Docker Hub for pulls. */
  mirrors?: string[];
  /** Layers a pull downloads at once (default 3). */
  maxConcurrentDownloads?: number;
  /** Layers a push uploads at once (default 5). */
  maxConcurrentUploads?: number;
  /**
   * Registries' own CAs and client certificates: `<certsDir>/<host:port>/*.crt` are trusted
   * in addition to the system's roots, `*.cert`/`*.key` are client certificates, as in
   * dockerd's `/etc/docker/certs.d` (berthd: `/etc/berth/certs.d`). None when unset.
   */
  certsDir?: string;
}

/** EngineConfig with every default filled in. */
export type ResolvedEngineConfig = Required<Omit<EngineConfig, 'storageDriver' | 'configure' | 'defaultBridge'>> & {
  storageDriver?: string;
  defaultBridge: { name: string; bip?: string };
};

/** The engine's resolved configuration. */
export const EngineConfigToken = token<ResolvedEngineConfig>('EngineConfig');

/** Storage drivers tried in this order when the operator chose none and the data root holds none (core's kind table holds it). */
export const storagePriority: readonly string[] = pluginKindTable.storage.priority;
