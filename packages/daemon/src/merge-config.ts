import * as path from 'node:path';
import { pluginKinds } from '@berth/core';
import { ConfigError } from './config-file.js';
import {
  type DaemonConfig,
  type DaemonSettings,
  defaultHost,
  defaults,
  type LogFormat,
  type LogLevel,
  logLevels,
} from './daemon-config.js';

function show(value: unknown): string {
  return Array.isArray(value) ? value.join(', ') : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * `-H` values to socket paths. berthd serves UNIX sockets only: TCP without TLS client
 * certificates would hand root to anyone who can reach the port.
 */
export function parseHost(host: string): string {
  if (host === 'unix://') return defaultHost.slice('unix://'.length);
  if (host.startsWith('unix://')) {
    const p = host.slice('unix://'.length);
    if (!p.startsWith('/')) throw new ConfigError(`invalid host "${host}": the socket path must be absolute (unix:///path/to.sock)`);
    return p;
  }
  if (host.startsWith('tcp://')) {
    throw new ConfigError(`cannot serve ${host}: berthd serves UNIX sockets only (TCP needs TLS client certificates, not supported yet)`);
  }
  if (host.startsWith('fd://')) throw new ConfigError(`cannot serve ${host}: socket activation is not supported; use unix:///path`);
  throw new ConfigError(`invalid host "${host}": use unix:///path/to.sock`);
}

function parseLogLevel(value: string): LogLevel {
  const v = value.toLowerCase();
  if (v === 'warning') return 'warn';
  if (v === 'fatal' || v === 'panic') return 'error';
  if ((logLevels as readonly string[]).includes(v)) return v as LogLevel;
  throw new ConfigError(`invalid log level "${value}": use debug, info, warn or error`);
}

function parseLogFormat(value: string): LogFormat {
  if (value === 'text' || value === 'json') return value;
  throw new ConfigError(`invalid log format "${value}": use text or json`);
}

function checkPluginConfig(config: Record<string, unknown>): Record<string, Record<string, unknown>> {
  for (const [key, value] of Object.entries(config)) {
    const [kind, name, extra] = key.split('/');
    if (!kind || !name || extra !== undefined || !(pluginKinds as readonly string[]).includes(kind)) {
      throw new ConfigError(`plugin-config: key "${key}" must be <kind>/<name> with kind one of ${pluginKinds.join(', ')}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigError(`plugin-config: "${key}" must be an object`);
    }
  }
  return config as Record<string, Record<string, unknown>>;
}

/** A positive number of seconds (or a count) from a flag or daemon.json, or undefined when not set. */
function positive(
  s: DaemonSettings,
  key:
    | 'api-max-connections'
    | 'api-headers-timeout'
    | 'api-idle-timeout'
    | 'api-body-idle-timeout'
    | 'max-concurrent-downloads'
    | 'max-concurrent-uploads',
) {
  const value = s[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new ConfigError(`${key} must be a positive number, got ${value}`);
  if ((key === 'api-max-connections' || key.startsWith('max-concurrent-')) && !Number.isInteger(value))
    throw new ConfigError(`${key} must be a whole number, got ${value}`);
  return value;
}

/** The registry settings, checked; undefined when none is set. */
function registryOf(s: DaemonSettings): DaemonConfig['registry'] {
  const registry: NonNullable<DaemonConfig['registry']> = {};
  if (s['insecure-registries'] !== undefined) registry.insecureRegistries = s['insecure-registries'];
  if (s['registry-mirrors'] !== undefined) {
    for (const mirror of s['registry-mirrors']) {
      if (!/^https?:\/\/[^/]+/.test(mirror))
        throw new ConfigError(`registry-mirrors: invalid mirror ${JSON.stringify(mirror)}: expected an http:// or https:// URL`);
    }
    registry.mirrors = s['registry-mirrors'];
  }
  const downloads = positive(s, 'max-concurrent-downloads');
  const uploads = positive(s, 'max-concurrent-uploads');
  if (downloads !== undefined) registry.maxConcurrentDownloads = downloads;
  if (uploads !== undefined) registry.maxConcurrentUploads = uploads;
  if (s['registry-certs-dir'] !== undefined) registry.certsDir = path.resolve(s['registry-certs-dir']);
  return Object.keys(registry).length ? registry : undefined;
}

/** The `api-*` settings as @berth/api's limits (seconds become milliseconds); unset ones are left out. */
function apiLimitsOf(s: DaemonSettings): DaemonConfig['apiLimits'] {
  const limits: DaemonConfig['apiLimits'] = {};
  const max = positive(s, 'api-max-connections');
  const headers = positive(s, 'api-headers-timeout');
  const idle = positive(s, 'api-idle-timeout');
  const body = positive(s, 'api-body-idle-timeout');
  if (max !== undefined) limits.maxConnections = max;
  if (headers !== undefined) limits.headersTimeoutMs = headers * 1000;
  if (idle !== undefined) limits.idleTimeoutMs = idle * 1000;
  if (body !== undefined) limits.bodyIdleTimeoutMs = body * 1000;
  return limits;
}

/**
 * Merges command-line settings, daemon.json settings and defaults, as dockerd does: a
 * setting given both ways is an error that names both values; paths become absolute.
 * Pure.
 */
export function mergeDaemonConfig(flags: DaemonSettings, file: DaemonSettings, configFile?: string): DaemonConfig {
  const both = (Object.keys(flags) as Array<keyof DaemonSettings>).filter((k) => file[k] !== undefined);
  if (both.length > 0) {
    const detail = both.map((k) => `${k}: (from flag: ${show(flags[k])}, from file: ${show(file[k])})`).join(', ');
    throw new ConfigError(
      `unable to configure berthd with file ${configFile}: the following directives are specified both as a flag and in the configuration file: ${detail}`,
    );
  }
  const s: DaemonSettings = { ...file, ...flags };
  const execRoot = path.resolve(s['exec-root'] ?? defaults.execRoot);
  let logLevel = s['log-level'] !== undefined ? parseLogLevel(s['log-level']) : defaults.logLevel;
  if (s.debug && s['log-level'] === undefined) logLevel = 'debug';
  const config: DaemonConfig = {
    hosts: [...new Set((s.hosts && s.hosts.length > 0 ? s.hosts : [defaultHost]).map(parseHost))],
    dataRoot: path.resolve(s['data-root'] ?? defaults.dataRoot),
    execRoot,
    cgroupParent: s['cgroup-parent'] ?? defaults.cgroupParent,
    logLevel,
    logFormat: s['log-format'] !== undefined ? parseLogFormat(s['log-format']) : defaults.logFormat,
    pidfile: path.resolve(s.pidfile ?? path.join(execRoot, 'berthd.pid')),
    plugins: s.plugins ?? [],
    pluginConfig: checkPluginConfig(s['plugin-config'] ?? {}),
    apiLimits: apiLimitsOf(s),
    defaultBridge: {
      ...(s.bridge !== undefined ? { name: s.bridge } : {}),
      ...(s.bip !== undefined ? { bip: s.bip } : {}),
    },
  };
  if (s['default-address-pools'] !== undefined) config.defaultAddressPools = s['default-address-pools'].map(parsePool);
  if (s['nftables-table'] !== undefined) {
    config.pluginConfig = {
      ...config.pluginConfig,
      'network/bridge': { ...config.pluginConfig['network/bridge'], table: s['nftables-table'] },
    };
  }
  if (s['storage-driver'] !== undefined) config.storageDriver = s['storage-driver'];
  if (s['default-runtime'] !== undefined) config.defaultRuntime = s['default-runtime'];
  if (s['log-driver'] !== undefined) config.logDriver = s['log-driver'];
  if (s['log-opts'] !== undefined) config.logOpts = s['log-opts'];
  const registry = registryOf(s);
  if (registry) config.registry = registry;
  if (configFile !== undefined) config.configFile = configFile;
  return config;
}

/** A default address pool: daemon.json's `{ "base": "10.199.0.0/16", "size": 24 }` or the flag's `base=10.199.0.0/16,size=24`. */
function parsePool(pool: { base: string; size: number } | string): { base: string; size: number } {
  let base: unknown;
  let size: unknown;
  if (typeof pool === 'string') {
    const fields = Object.fromEntries(pool.split(',').map((kv) => kv.split('=', 2) as [string, string]));
    base = fields.base;
    size = fields.size === undefined ? undefined : Number(fields.size);
  } else if (pool && typeof pool === 'object') {
    ({ base, size } = pool);
  }
  if (
    typeof base !== 'string' ||
    !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(base) ||
    typeof size !== 'number' ||
    !Number.isInteger(size) ||
    size < 1 ||
    size > 30
  ) {
    throw new ConfigError(`invalid default-address-pools entry ${JSON.stringify(pool)}: expected base (an IPv4 CIDR) and size (1-30)`);
  }
  return { base, size };
}
