import type { ServerLimits } from '@berth/api';
import type { RegistryConfig } from '@berth/engine';

/** Log levels, least to most severe. */
export const logLevels = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof logLevels)[number];
export type LogFormat = 'text' | 'json';

/**
 * berthd's settings once flags, daemon.json and defaults are merged. Keys of the
 * config file and long flags share dockerd's names (`data-root`, `exec-root`, ...).
 */
export interface DaemonConfig {
  /** UNIX socket paths to serve the API on (from `-H unix:///path`). */
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  storageDriver?: string;
  defaultRuntime?: string;
  cgroupParent: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  pidfile: string;
  /** npm package names (or paths) of third-party plugin manifests, loaded with require. */
  plugins: string[];
  /** Per-plugin settings keyed `<kind>/<name>`. */
  pluginConfig: Record<string, Record<string, unknown>>;
  /** The config file that was read, if any. */
  configFile?: string;
  /** The API server's limits the operator set (`api-*`); the rest keep @berth/api's defaults. */
  apiLimits: Partial<ServerLimits>;
  /** The log driver of containers that name none (`log-driver`). */
  logDriver?: string;
  /** Its options for those containers (`log-opts`: `max-size`, `max-file`). */
  logOpts?: Record<string, string>;
  /** The default bridge network's bridge (`bridge`, default berth0) and gateway/prefix (`bip`). */
  defaultBridge: { name?: string; bip?: string };
  /** Where networks without a subnet get one (`default-address-pools`). */
  defaultAddressPools?: Array<{ base: string; size: number }>;
  /** How pulls and pushes reach registries (`insecure-registries`, `registry-mirrors`, `max-concurrent-*`). */
  registry?: RegistryConfig;
}

export const defaultSocket = '/run/berth/berth.sock';
export const defaultHost = `unix://${defaultSocket}`;
export const defaultConfigFile = '/etc/berth/daemon.json';
/** Registries' CAs and client certificates, `<dir>/<host:port>/{*.crt,*.cert,*.key}` (dockerd's `/etc/docker/certs.d`). */
export const defaultRegistryCertsDir = '/etc/berth/certs.d';

export const defaults = {
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  cgroupParent: 'berth',
  logLevel: 'info' as LogLevel,
  logFormat: 'text' as LogFormat,
};

/** The settings a flag or a daemon.json key can carry, by dockerd's key name. */
export interface DaemonSettings {
  hosts?: string[];
  'data-root'?: string;
  'exec-root'?: string;
  'storage-driver'?: string;
  'default-runtime'?: string;
  'cgroup-parent'?: string;
  'log-level'?: string;
  'log-format'?: string;
  debug?: boolean;
  pidfile?: string;
  plugins?: string[];
  'plugin-config'?: Record<string, Record<string, unknown>>;
  'log-driver'?: string;
  'log-opts'?: Record<string, string>;
  /** Connections each API socket holds at once (berth's own key; dockerd has no limit). */
  'api-max-connections'?: number;
  /** Seconds a client has to send a request's headers. */
  'api-headers-timeout'?: number;
  /** Seconds an idle keep-alive connection is kept. */
  'api-idle-timeout'?: number;
  /** Seconds an upload may send nothing while the daemon waits for it. */
  'api-body-idle-timeout'?: number;
  /** The default bridge network's Linux bridge (dockerd's `bridge`; berth0 by default). */
  bridge?: string;
  /** The default bridge's address and prefix, `172.17.0.1/16` (dockerd's `bip`). */
  bip?: string;
  /** `[{ "base": "10.199.0.0/16", "size": 24 }]` in daemon.json; `base=10.199.0.0/16,size=24` on the command line. */
  'default-address-pools'?: Array<{ base: string; size: number } | string>;
  /** berth's nftables table (berth's own key; `berth` by default): one per daemon on a host. */
  'nftables-table'?: string;
  /** Registries reached over plain HTTP: `host[:port]` or IPv4 CIDRs (loopback always is). */
  'insecure-registries'?: string[];
  /** Docker Hub mirrors tried before it for pulls. */
  'registry-mirrors'?: string[];
  /** Layers a pull downloads at once (default 3). */
  'max-concurrent-downloads'?: number;
  /** Layers a push uploads at once (default 5). */
  'max-concurrent-uploads'?: number;
  /** Where registries' CAs and client certificates are (berth's own key; dockerd's is fixed at /etc/docker/certs.d). */
  'registry-certs-dir'?: string;
}

export type SettingKey = keyof DaemonSettings;
