import { InvalidArgument, type RuntimeLog } from '@berth/core';

/** A container's logging, as `HostConfig.LogConfig` shows it once resolved. */
export interface LogConfig {
  Type: 'json-file' | 'none';
  Config: Record<string, string>;
}

/** The operator's defaults (daemon.json `log-driver` and `log-opts`). */
export interface LogDefaults {
  driver?: string;
  opts?: Record<string, string>;
}

/**
 * berth's rotation when nothing is configured: 10 MiB × 3 files, so a chatty container
 * never fills the disk (Docker's json-file default never rotates).
 */
export const defaultLogRotation = { maxSize: 10 * 1024 * 1024, maxFiles: 3 } as const;

/** Docker's log drivers berth does not carry: named as unsupported rather than unknown. */
const otherDockerDrivers = new Set([
  'local',
  'syslog',
  'journald',
  'gelf',
  'fluentd',
  'awslogs',
  'splunk',
  'etwlogs',
  'gcplogs',
  'logentries',
]);

/** The json-file options berth carries out; Docker's others (labels, env, tag) add attributes berth does not write. */
const jsonFileOptions = new Set(['max-size', 'max-file', 'compress']);

const units: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Docker's RAMInBytes (`10m`, `1.5g`, `512k`, `100`): binary units, an optional `b`/`ib`. */
export function parseLogSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new InvalidArgument(`invalid size: '${text}'`);
  return Math.floor(Number(m[1]) * units[m[2]!.toLowerCase()]!);
}

/**
 * Checks a LogConfig as dockerd's json-file and none drivers check theirs and returns it
 * normalised; throws InvalidArgument (400) naming the driver or option it refuses. An empty
 * Type is the default driver.
 */
export function checkLogConfig(type: string, config: Record<string, string> = {}): LogConfig {
  if (type === 'none') {
    const option = Object.keys(config)[0];
    if (option !== undefined) throw new InvalidArgument(`unknown log opt '${option}' for none log driver`);
    return { Type: 'none', Config: {} };
  }
  if (otherDockerDrivers.has(type)) {
    throw new InvalidArgument(
      `HostConfig.LogConfig.Type ${JSON.stringify(type)} is not supported by berth yet: only "json-file" and "none"`,
    );
  }
  if (type !== 'json-file') throw new InvalidArgument(`logger: no log driver named '${type}' is registered`);
  for (const [option, value] of Object.entries(config)) {
    if (!jsonFileOptions.has(option)) throw new InvalidArgument(`unknown log opt '${option}' for json-file log driver`);
    if (option === 'compress' && value !== 'false') {
      throw new InvalidArgument(`log opt 'compress' is not supported by berth yet: rotated json-file logs are kept uncompressed`);
    }
  }
  const rotation = logRotation({ Type: 'json-file', Config: config });
  if (rotation && rotation.maxSize <= 0) throw new InvalidArgument('max-size must be a positive number');
  return { Type: 'json-file', Config: { ...config } };
}

/**
 * The request's LogConfig with the operator's defaults filled in, as dockerd stores it:
 * the Type given, else the daemon's `log-driver`, else json-file; the daemon's `log-opts`
 * apply when the container uses the daemon's driver, the request's own options win.
 */
export function resolveLogConfig(
  requested: { Type?: string; Config?: Record<string, string> } | undefined,
  defaults: LogDefaults,
): LogConfig {
  const defaultType = defaults.driver || 'json-file';
  const type = requested?.Type || defaultType;
  const config = type === defaultType ? { ...(defaults.opts ?? {}), ...(requested?.Config ?? {}) } : { ...(requested?.Config ?? {}) };
  return checkLogConfig(type, config);
}

/**
 * How the shim rotates a json-file log: `max-size` and `max-file` as Docker reads them
 * (`max-file` alone is an error, `max-file` defaults to 1 with a `max-size`), berth's
 * default without either. Undefined for the none driver.
 */
export function logRotation(config: LogConfig): { maxSize: number; maxFiles: number } | undefined {
  if (config.Type !== 'json-file') return undefined;
  const size = config.Config['max-size'];
  const files = config.Config['max-file'];
  if (size === undefined) {
    if (files !== undefined && files !== '1') throw new InvalidArgument('max-file cannot be set without max-size');
    return { ...defaultLogRotation };
  }
  const maxFiles = files === undefined ? 1 : Number(files);
  if (!Number.isInteger(maxFiles) || String(files ?? '1').trim() === '')
    throw new InvalidArgument(`invalid value for max-file: '${files}'`);
  if (maxFiles < 1) throw new InvalidArgument('max-file cannot be less than 1');
  return { maxSize: parseLogSize(size), maxFiles };
}

/** A record's LogConfig (as its create resolved it; a record older than log drivers has json-file). */
export function storedLogConfig(stored: { Type?: string; Config?: Record<string, string> } | undefined): LogConfig {
  if (stored?.Type === 'none') return { Type: 'none', Config: {} };
  return { Type: 'json-file', Config: stored?.Config ?? {} };
}

/** What the runtime is told to do with a run's output: the log file and its rotation, or nothing (`none`). */
export function runtimeLogRequest(
  stored: { Type?: string; Config?: Record<string, string> } | undefined,
  logPath: string,
): { log?: RuntimeLog } {
  const config = storedLogConfig(stored);
  if (config.Type === 'none') return {};
  let rotation: { maxSize: number; maxFiles: number } | undefined;
  try {
    rotation = logRotation(config);
  } catch {
    rotation = { ...defaultLogRotation }; // checked at create; a record edited by hand still rotates
  }
  return { log: rotation ? { format: 'json-file', path: logPath, rotation } : { format: 'json-file', path: logPath } };
}
