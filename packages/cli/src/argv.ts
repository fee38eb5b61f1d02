import { FlagError } from './errors.js';

export type FlagKind = 'bool' | 'string' | 'list' | 'int';

/** One flag of a command, described like pflag does: long name, optional one-letter short, kind, help. */
export interface FlagSpec {
  long: string;
  short?: string;
  kind: FlagKind;
  help: string;
  /** Value name in the help (`string`, `list`, `bytes`, `decimal`, `int`); defaults by kind. */
  meta?: string;
  /** Shown as `(default x)`. */
  def?: string;
  hidden?: boolean;
}

/** The parsed flags of one command line, read by long name. */
export class Flags {
  private readonly values = new Map<string, string | boolean | string[]>();

  set(spec: FlagSpec, value: string | boolean): void {
    if (spec.kind === 'list') {
      const list = (this.values.get(spec.long) as string[] | undefined) ?? [];
      list.push(value as string);
      this.values.set(spec.long, list);
    } else this.values.set(spec.long, value);
  }

  /** Whether the flag was given at all (pflag's `Changed`). */
  has(name: string): boolean {
    return this.values.has(name);
  }

  bool(name: string, def = false): boolean {
    const v = this.values.get(name);
    return typeof v === 'boolean' ? v : def;
  }

  string(name: string): string | undefined {
    const v = this.values.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  list(name: string): string[] {
    const v = this.values.get(name);
    return Array.isArray(v) ? v : [];
  }

  int(name: string): number | undefined {
    const v = this.values.get(name);
    return typeof v === 'string' ? Number(v) : undefined;
  }
}

export interface ParsedArgs {
  flags: Flags;
  args: string[];
  /** `--help` was given. */
  help: boolean;
}

/** How a flag is named in messages: `-t, --time` or `--rm`. */
export function flagTitle(spec: FlagSpec): string {
  return spec.short ? `-${spec.short}, --${spec.long}` : `--${spec.long}`;
}

function parseBool(spec: FlagSpec, text: string): boolean {
  const v = text.toLowerCase();
  if (v === '1' || v === 't' || v === 'true') return true;
  if (v === '0' || v === 'f' || v === 'false') return false;
  throw new FlagError(`invalid argument "${text}" for "${flagTitle(spec)}" flag: strconv.ParseBool: parsing "${text}": invalid syntax`);
}

function checkValue(spec: FlagSpec, text: string): string {
  if (spec.kind === 'int' && !/^[-+]?\d+$/.test(text)) {
    throw new FlagError(`invalid argument "${text}" for "${flagTitle(spec)}" flag: strconv.ParseInt: parsing "${text}": invalid syntax`);
  }
  return text;
}

/**
 * Parses a command's arguments like pflag: `--name value`, `--name=value`, `-n value`,
 * `-nvalue`, `-n=value`, bundled booleans (`-di`), `--bool=false`, `--` and a lone `-`.
 * With `interspersed` false (run, create) the first argument that is not a flag ends the
 * flags: the rest is the container's command.
 */
export function parseArgs(argv: string[], specs: FlagSpec[], interspersed = true): ParsedArgs {
  const byLong = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const s of specs) {
    byLong.set(s.long, s);
    if (s.short) byShort.set(s.short, s);
  }
  const flags = new Flags();
  const args: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const spec = byLong.get(name);
      if (!spec) {
        if (name === 'help') {
          help = true;
          continue;
        }
        throw new FlagError(`unknown flag: --${name}`);
      }
      if (spec.kind === 'bool') flags.set(spec, eq >= 0 ? parseBool(spec, a.slice(eq + 1)) : true);
      else if (eq >= 0) flags.set(spec, checkValue(spec, a.slice(eq + 1)));
      else if (i + 1 < argv.length) flags.set(spec, checkValue(spec, argv[++i]!));
      else throw new FlagError(`flag needs an argument: --${name}`);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const spec = byShort.get(c);
        if (!spec) {
          if (c === 'h' && j === 1 && a.length === 2) {
            help = true;
            break;
          }
          throw new FlagError(`unknown shorthand flag: '${c}' in ${a}`);
        }
        if (spec.kind === 'bool') {
          if (a[j + 1] === '=') {
            flags.set(spec, parseBool(spec, a.slice(j + 2)));
            break;
          }
          flags.set(spec, true);
          continue;
        }
        let value = a.slice(j + 1);
        if (value.startsWith('=')) value = value.slice(1);
        else if (!value) {
          if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: '${c}' in -${c}`);
          value = argv[++i]!;
        }
        flags.set(spec, checkValue(spec, value));
        break;
      }
      continue;
    }
    args.push(a);
    if (!interspersed) {
      args.push(...argv.slice(i + 1));
      break;
    }
  }
  return { flags, args, help };
}

/** pflag's option listing: `  -t, --time int   Seconds to wait (default 10)`, aligned. */
export function formatOptions(specs: FlagSpec[]): string {
  const rows = specs
    .filter((s) => !s.hidden)
    .map((s) => {
      const meta = s.kind === 'bool' ? '' : ` ${s.meta ?? (s.kind === 'list' ? 'list' : s.kind)}`;
      const left = s.short ? `  -${s.short}, --${s.long}${meta}` : `      --${s.long}${meta}`;
      const def = s.def !== undefined ? ` (default ${s.def})` : '';
      return [left, s.help + def] as const;
    });
  const width = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, r]) => `${l.padEnd(width)}   ${r}`).join('\n');
}
