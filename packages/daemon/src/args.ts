import type { DaemonSettings, SettingKey } from './daemon-config.js';

/** A mistake on the command line: berthd prints it with the usage hint and exits 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What the command line asked for. `settings` holds only what was given. */
export interface ParsedArgs {
  settings: DaemonSettings;
  configFile?: string;
  help: boolean;
  version: boolean;
}

type FlagKind = 'string' | 'list' | 'bool' | 'number';

interface FlagSpec {
  long: string;
  short?: string;
  kind: FlagKind;
  /** The daemon.json key it sets; undefined for flags that are not settings. */
  key?: SettingKey;
  help: string;
  arg?: string;
}

/** berthd's flags: dockerd's names where dockerd has the flag. */
export const flagSpecs: readonly FlagSpec[] = [
  {
    long: 'host',
    short: 'H',
    kind: 'list',
    key: 'hosts',
    arg: 'unix:///path',
    help: 'socket to serve the API on (repeatable; default unix:///run/berth/berth.sock)',
  },
  { long: 'data-root', kind: 'string', key: 'data-root', arg: 'dir', help: 'persistent state (default /var/lib/berth)' },
  { long: 'exec-root', kind: 'string', key: 'exec-root', arg: 'dir', help: 'state that dies with the host (default /run/berth)' },
  {
    long: 'storage-driver',
    short: 's',
    kind: 'string',
    key: 'storage-driver',
    arg: 'name',
    help: 'storage driver (default: the one the data root holds, else the first that works)',
  },
  {
    long: 'default-runtime',
    kind: 'string',
    key: 'default-runtime',
    arg: 'name',
    help: 'runtime for containers that name none (default runc)',
  },
  { long: 'cgroup-parent', kind: 'string', key: 'cgroup-parent', arg: 'name', help: 'parent cgroup of every container (default berth)' },
  {
    long: 'bridge',
    short: 'b',
    kind: 'string',
    key: 'bridge',
    arg: 'name',
    help: "the default bridge network's Linux bridge (default berth0)",
  },
  {
    long: 'bip',
    kind: 'string',
    key: 'bip',
    arg: 'cidr',
    help: "the default bridge's address and prefix, 172.17.0.1/16 (default: a free pool subnet)",
  },
  {
    long: 'default-address-pool',
    kind: 'list',
    key: 'default-address-pools',
    arg: 'base=cidr,size=n',
    help: 'where networks without --subnet get one (default: 172.17-31.0.0/16, 192.168.0.0/16 in /20s)',
  },
  {
    long: 'nftables-table',
    kind: 'string',
    key: 'nftables-table',
    arg: 'name',
    help: "berth's nftables table, one per daemon on a host (default berth)",
  },
  { long: 'log-level', short: 'l', kind: 'string', key: 'log-level', arg: 'level', help: 'debug, info, warn or error (default info)' },
  { long: 'log-format', kind: 'string', key: 'log-format', arg: 'format', help: 'text or json (default text)' },
  { long: 'debug', short: 'D', kind: 'bool', key: 'debug', help: 'same as --log-level debug' },
  { long: 'pidfile', short: 'p', kind: 'string', key: 'pidfile', arg: 'file', help: 'pid file (default <exec-root>/berthd.pid)' },
  {
    long: 'api-max-connections',
    kind: 'number',
    key: 'api-max-connections',
    arg: 'n',
    help: 'connections per API socket; idle ones make room, then a 503 (default 4096, at most half the fd limit)',
  },
  {
    long: 'api-headers-timeout',
    kind: 'number',
    key: 'api-headers-timeout',
    arg: 'seconds',
    help: "time a client has to send a request's headers (default 10)",
  },
  {
    long: 'api-idle-timeout',
    kind: 'number',
    key: 'api-idle-timeout',
    arg: 'seconds',
    help: 'idle keep-alive connections are closed after it (default 30)',
  },
  {
    long: 'api-body-idle-timeout',
    kind: 'number',
    key: 'api-body-idle-timeout',
    arg: 'seconds',
    help: 'an upload that sends nothing for this long is answered 408 (default 60)',
  },
  {
    long: 'insecure-registry',
    kind: 'list',
    key: 'insecure-registries',
    arg: 'host[:port]|cidr',
    help: 'registry reached over plain HTTP, certificate unchecked (repeatable; loopback always is)',
  },
  {
    long: 'registry-mirror',
    kind: 'list',
    key: 'registry-mirrors',
    arg: 'url',
    help: 'Docker Hub mirror tried first for pulls (repeatable)',
  },
  {
    long: 'max-concurrent-downloads',
    kind: 'number',
    key: 'max-concurrent-downloads',
    arg: 'n',
    help: 'layers a pull downloads at once (default 3)',
  },
  {
    long: 'max-concurrent-uploads',
    kind: 'number',
    key: 'max-concurrent-uploads',
    arg: 'n',
    help: 'layers a push uploads at once (default 5)',
  },
  {
    long: 'registry-certs-dir',
    kind: 'string',
    key: 'registry-certs-dir',
    arg: 'dir',
    help: "registries' CAs and client certificates, <dir>/<host:port>/*.crt (default /etc/berth/certs.d)",
  },
  { long: 'config-file', kind: 'string', arg: 'file', help: 'daemon.json to read (default /etc/berth/daemon.json)' },
  { long: 'help', short: 'h', kind: 'bool', help: 'print this help' },
  { long: 'version', short: 'v', kind: 'bool', help: 'print the version' },
];

const byLong = new Map(flagSpecs.map((f) => [f.long, f]));
const byShort = new Map(flagSpecs.filter((f) => f.short).map((f) => [f.short!, f]));

function parseBool(flag: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new UsageError(`invalid argument "${value}" for "${flag}" flag: expected true or false`);
}

/**
 * Parses berthd's command line like dockerd's (pflag): `--flag value`, `--flag=value`,
 * `-H value`, `-H=value`, `-Hvalue`, bundled booleans (`-Dh`), repeatable `-H`, and `--`
 * ending the flags. Pure: no I/O, no defaults.
 */
export function parseDaemonArgs(argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { settings: {}, help: false, version: false };
  const apply = (spec: FlagSpec, shown: string, value: string | boolean) => {
    if (spec.long === 'help') out.help = value === true;
    else if (spec.long === 'version') out.version = value === true;
    else if (spec.long === 'config-file') out.configFile = value as string;
    else if (spec.kind === 'list') {
      const list = (out.settings[spec.key!] as string[] | undefined) ?? [];
      list.push(value as string);
      (out.settings as Record<string, unknown>)[spec.key!] = list;
    } else if (spec.kind === 'number') {
      const n = Number(value);
      if (value === '' || !Number.isFinite(n) || n <= 0)
        throw new UsageError(`invalid argument "${value}" for "${shown}" flag: expected a positive number`);
      (out.settings as Record<string, unknown>)[spec.key!] = n;
    } else (out.settings as Record<string, unknown>)[spec.key!] = value;
    if (spec.kind === 'string' && value === '') throw new UsageError(`flag ${shown} needs a non-empty value`);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      if (i + 1 < argv.length) throw new UsageError(`berthd takes no arguments, got "${argv[i + 1]}"`);
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`);
      if (spec.kind === 'bool') {
        apply(spec, `--${name}`, eq === -1 ? true : parseBool(`--${name}`, arg.slice(eq + 1)));
      } else if (eq !== -1) {
        apply(spec, `--${name}`, arg.slice(eq + 1));
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: --${name}`);
        apply(spec, `--${name}`, argv[++i]!);
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      // Shorthands may be bundled: booleans first, one value-taking flag last.
      for (let j = 1; j < arg.length; j++) {
        const c = arg[j]!;
        const spec = byShort.get(c);
        if (!spec) throw new UsageError(`unknown shorthand flag: '${c}' in ${arg}`);
        const rest = arg.slice(j + 1);
        if (spec.kind === 'bool') {
          if (rest.startsWith('=')) {
            apply(spec, `-${c}`, parseBool(`-${c}`, rest.slice(1)));
            break;
          }
          apply(spec, `-${c}`, true);
          continue;
        }
        if (rest.length > 0) apply(spec, `-${c}`, rest.startsWith('=') ? rest.slice(1) : rest);
        else {
          if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: '${c}' in -${c}`);
          apply(spec, `-${c}`, argv[++i]!);
        }
        break;
      }
      continue;
    }
    throw new UsageError(`berthd takes no arguments, got "${arg}"`);
  }
  return out;
}

/** The `--help` text. */
export function usage(): string {
  const lines = ['Usage: berthd [OPTIONS]', '', 'A container engine that speaks the Docker Engine API.', '', 'Options:'];
  for (const f of flagSpecs) {
    const names = `${f.short ? `-${f.short}, ` : '    '}--${f.long}${f.arg ? ` ${f.arg}` : ''}`;
    lines.push(`  ${names.padEnd(34)} ${f.help}`);
  }
  return `${lines.join('\n')}\n`;
}
