import { promises as fs } from 'node:fs';
import type { DaemonSettings } from './daemon-config.js';

/** A daemon.json that cannot be used: berthd prints it and exits 1. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Keys berthd reads, with the JSON type each must have. */
const keyTypes: Record<keyof DaemonSettings, 'string' | 'string[]' | 'boolean' | 'object' | 'number' | 'array'> = {
  hosts: 'string[]',
  'data-root': 'string',
  'exec-root': 'string',
  'storage-driver': 'string',
  'default-runtime': 'string',
  'cgroup-parent': 'string',
  'log-level': 'string',
  'log-format': 'string',
  debug: 'boolean',
  pidfile: 'string',
  plugins: 'string[]',
  'plugin-config': 'object',
  'log-driver': 'string',
  'log-opts': 'object',
  'api-max-connections': 'number',
  'api-headers-timeout': 'number',
  'api-idle-timeout': 'number',
  'api-body-idle-timeout': 'number',
  bridge: 'string',
  bip: 'string',
  'default-address-pools': 'array',
  'nftables-table': 'string',
  'insecure-registries': 'string[]',
  'registry-mirrors': 'string[]',
  'max-concurrent-downloads': 'number',
  'max-concurrent-uploads': 'number',
  'registry-certs-dir': 'string',
};

/**
 * dockerd keys berthd knows of but does not act on (yet): accepted with a warning, so a
 * daemon.json written for dockerd still starts berthd. Any other key is an error, as in dockerd.
 */
const ignoredDockerdKeys = new Set([
  'containerd',
  'default-ulimits',
  'dns',
  'dns-opts',
  'dns-search',
  'exec-opts',
  'experimental',
  'features',
  'group',
  'ip-forward',
  'ip-masq',
  'iptables',
  'ipv6',
  'labels',
  'live-restore',
  'mtu',
  'runtimes',
  'selinux-enabled',
  'storage-opts',
  'tls',
  'tlscacert',
  'tlscert',
  'tlskey',
  'tlsverify',
  'userland-proxy',
  'userns-remap',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * Checks a parsed daemon.json: every key known and of the right type. Returns the
 * settings and warnings for dockerd keys that berthd ignores. Pure.
 */
export function validateConfigObject(raw: unknown, file: string): { settings: DaemonSettings; warnings: string[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${file}: the configuration must be a JSON object, got ${typeOf(raw)}`);
  }
  const settings: Record<string, unknown> = {};
  const warnings: string[] = [];
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const want = keyTypes[key as keyof DaemonSettings];
    if (!want) {
      if (ignoredDockerdKeys.has(key)) warnings.push(`${file}: "${key}" is a dockerd setting berthd does not support yet; ignored`);
      else unknown.push(key);
      continue;
    }
    const ok =
      want === 'string[]'
        ? Array.isArray(value) && value.every((v) => typeof v === 'string')
        : want === 'object' || want === 'array'
          ? typeOf(value) === want
          : typeof value === want;
    if (!ok)
      throw new ConfigError(
        `${file}: "${key}" must be ${want === 'string[]' ? 'an array of strings' : want === 'array' ? 'an array' : `a ${want}`}, got ${typeOf(value)}`,
      );
    settings[key] = value;
  }
  if (unknown.length > 0) {
    throw new ConfigError(`${file}: the following directives don't match any configuration option: ${unknown.join(', ')}`);
  }
  return { settings: settings as DaemonSettings, warnings };
}

/**
 * Reads daemon.json. A missing file means "no file settings" (reported back as
 * `found: false`); unreadable or malformed JSON is an error naming the file and problem.
 */
export async function readConfigFile(file: string): Promise<{ found: boolean; settings: DaemonSettings; warnings: string[] }> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { found: false, settings: {}, warnings: [] };
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  return { found: true, ...validateConfigObject(raw, file) };
}
