import { existsSync } from 'node:fs';
import { InvalidArgument } from '@berth/core';
import { collectGarbage, DEFAULT_GRACE_MS, DEFAULT_UPLOAD_EXPIRY_MS, type GarbageCollectionOptions } from './gc/garbage-collector.js';
import { RegistryServer, type RegistryServerOptions } from './registry-server.js';
import { FilesystemStorage } from './storage/filesystem-storage.js';

/**
 * The flags of `serve` and `gc`, declared once: `berth registry serve|gc` (@berth/cli,
 * with its docker-style help) and `berth-registry` (this package's bin) both read them.
 */
export interface RegistryFlag {
  long: string;
  kind: 'bool' | 'string';
  help: string;
  def?: string;
}

export const DEFAULT_ROOT = '/var/lib/berth-registry';

export const SERVE_FLAGS: readonly RegistryFlag[] = [
  { long: 'addr', kind: 'string', help: 'Address to listen on (host:port, :port, [ipv6]:port)', def: ':5000' },
  { long: 'root', kind: 'string', help: 'Storage directory (replicas may share it)', def: DEFAULT_ROOT },
  { long: 'htpasswd', kind: 'string', help: 'htpasswd file of bcrypt entries (htpasswd -B): require these users' },
  { long: 'tls-cert', kind: 'string', help: 'TLS certificate file (PEM); with --tls-key, serve HTTPS' },
  { long: 'tls-key', kind: 'string', help: 'TLS private key file (PEM)' },
  { long: 'token-auth', kind: 'bool', help: 'Issue and require bearer tokens (GET /token checks the --htpasswd users)' },
  { long: 'token-realm', kind: 'string', help: 'Token endpoint URL announced to clients (default: /token of the requested host)' },
  { long: 'token-service', kind: 'string', help: 'Service name tokens are issued for', def: 'berth-registry' },
  { long: 'token-key', kind: 'string', help: 'Token signing key file, at least 32 bytes (default: <root>/token.key)' },
  { long: 'token-ttl', kind: 'string', help: 'Lifetime of a token (e.g. 300s, 5m)', def: '5m' },
];

export const GC_FLAGS: readonly RegistryFlag[] = [
  { long: 'root', kind: 'string', help: 'Storage directory', def: DEFAULT_ROOT },
  { long: 'grace', kind: 'string', help: 'Keep unreferenced blobs claimed this recently (pushes in progress)', def: '1h' },
  { long: 'upload-expiry', kind: 'string', help: 'Remove upload sessions idle this long', def: '24h' },
  { long: 'dry-run', kind: 'bool', help: 'Report what would be deleted, delete nothing' },
];

/** A flag's value as the caller's parser found it; undefined when not given. */
export type FlagValue = (long: string) => string | boolean | undefined;

/** A duration of `<number><unit>` terms (ms, s, m, h), Go's style: `90s`, `1h30m`, `0s`. */
export function parseDuration(text: string, flag: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * units[m[2]!]!;
    at = re.lastIndex;
  }
  if (text === '' || at !== text.length) throw new InvalidArgument(`invalid --${flag} "${text}" (want a duration such as 90s, 30m, 1h)`);
  return total;
}

function str(value: FlagValue, long: string): string | undefined {
  const v = value(long);
  return typeof v === 'string' ? v : undefined;
}

/** The server options the `serve` flags describe. */
export function serveOptions(value: FlagValue): RegistryServerOptions {
  const options: RegistryServerOptions = {
    addr: str(value, 'addr') ?? ':5000',
    root: str(value, 'root') ?? DEFAULT_ROOT,
    htpasswd: str(value, 'htpasswd'),
    tlsCert: str(value, 'tls-cert'),
    tlsKey: str(value, 'tls-key'),
  };
  const tokenFlags = ['token-realm', 'token-service', 'token-key', 'token-ttl'].filter((f) => value(f) !== undefined);
  if (value('token-auth') === true) {
    options.token = {
      realm: str(value, 'token-realm'),
      service: str(value, 'token-service'),
      keyFile: str(value, 'token-key'),
      ttlSeconds: Math.max(1, Math.round(parseDuration(str(value, 'token-ttl') ?? '5m', 'token-ttl') / 1000)),
    };
  } else if (tokenFlags.length) {
    throw new InvalidArgument(`--${tokenFlags[0]} needs --token-auth`);
  }
  return options;
}

/** Runs a registry until `stopped` settles (the caller's signal handling); resolves with the exit status. */
export async function serveUntil(options: RegistryServerOptions, out: (line: string) => void, stopped: Promise<unknown>): Promise<number> {
  const server = await RegistryServer.start(options);
  const a = server.address();
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  out(`berth registry: serving ${server.tls ? 'https' : 'http'}://${host}:${a.port} from ${options.root}`);
  await stopped.catch(() => {});
  await server.close();
  return 0;
}

/** Resolves at the first SIGINT or SIGTERM of this process. */
function processStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Runs one garbage collection with the `gc` flags; prints its report; resolves with the exit status. */
export async function runGarbageCollection(value: FlagValue, out: (line: string) => void): Promise<number> {
  const root = str(value, 'root') ?? DEFAULT_ROOT;
  const options: GarbageCollectionOptions = {
    graceMs: value('grace') !== undefined ? parseDuration(str(value, 'grace')!, 'grace') : DEFAULT_GRACE_MS,
    uploadExpiryMs:
      value('upload-expiry') !== undefined ? parseDuration(str(value, 'upload-expiry')!, 'upload-expiry') : DEFAULT_UPLOAD_EXPIRY_MS,
    dryRun: value('dry-run') === true,
    log: out,
  };
  // A mistyped --root must not be collected as an empty registry (and created on the way).
  if (!existsSync(root)) throw new InvalidArgument(`no registry storage at --root ${root}`);
  const report = await collectGarbage(await FilesystemStorage.open(root), options);
  for (const digest of report.deleted) out(`${options.dryRun ? 'would delete' : 'deleted'} ${digest}`);
  return 0;
}

/**
 * `berth-registry [serve] [flags]` and `berth-registry gc [flags]`: the registry as a
 * process of its own (bin/berth-registry), with `--flag value` and `--flag=value`.
 */
export async function registryMain(argv: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const verb = argv[0] === 'gc' || argv[0] === 'serve' ? argv[0] : 'serve';
  const rest = argv[0] === verb ? argv.slice(1) : argv;
  const flags = verb === 'gc' ? GC_FLAGS : SERVE_FLAGS;
  const values = new Map<string, string | boolean>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--help' || arg === '-h') {
      out(
        `Usage: berth-registry ${verb === 'gc' ? 'gc' : '[serve]'} [OPTIONS]\n\n${verb === 'gc' ? 'Collect the garbage of a registry storage' : 'Run an OCI Distribution registry'}\n\nOptions:`,
      );
      const titles = flags.map((f) => `--${f.long}${f.kind === 'string' ? ' string' : ''}`);
      const width = Math.max(...titles.map((t) => t.length)) + 3;
      flags.forEach((f, k) => {
        out(`  ${titles[k]!.padEnd(width)}${f.help}${f.def ? ` (default ${f.def})` : ''}`);
      });
      return 0;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const spec = m && flags.find((f) => f.long === m[1]);
    if (!m || !spec) {
      err(`berth-registry ${verb}: unknown argument "${arg}" (see --help)`);
      return 125;
    }
    if (spec.kind === 'bool') values.set(spec.long, m[2] === undefined ? true : m[2] === 'true');
    else if (m[2] !== undefined) values.set(spec.long, m[2]);
    else if (i + 1 < rest.length) values.set(spec.long, rest[++i]!);
    else {
      err(`berth-registry ${verb}: flag needs an argument: --${spec.long}`);
      return 125;
    }
  }
  const value: FlagValue = (long) => values.get(long);
  try {
    return verb === 'gc' ? await runGarbageCollection(value, out) : await serveUntil(serveOptions(value), out, processStopSignal());
  } catch (e) {
    err(`berth-registry ${verb}: ${(e as Error).message}`);
    return 1;
  }
}
