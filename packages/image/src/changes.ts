import * as path from 'node:path';
import { InvalidArgument } from '@berth/core';
import type { ContainerConfig } from './image-config.js';

/** The Dockerfile instructions `docker import --change` and `docker commit --change` accept here. */
export const changeInstructions = [
  'ENV',
  'CMD',
  'ENTRYPOINT',
  'WORKDIR',
  'USER',
  'LABEL',
  'EXPOSE',
  'VOLUME',
  'STOPSIGNAL',
  'ONBUILD',
  'HEALTHCHECK',
] as const;

/**
 * Apply `--change` instructions (`ENV A=b`, `CMD ["sh"]`, `EXPOSE 80/tcp`, ...) to a
 * copy of `base` and return it. JSON (exec) and shell forms are both accepted; `$VAR`
 * and `${VAR}` expand from the environment built so far, as in a Dockerfile. An
 * instruction outside `changeInstructions` is an InvalidArgument with Docker's
 * message: `RUN is not a valid change command`.
 */
export function applyChanges(base: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const config: ContainerConfig = structuredClone(base);
  let cmdSet = false;
  for (const change of changes) {
    const trimmed = change.trim();
    if (trimmed === '') continue;
    const m = /^(\S+)\s*([\s\S]*)$/.exec(trimmed)!;
    const instruction = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (!(changeInstructions as readonly string[]).includes(instruction)) {
      throw new InvalidArgument(`${instruction} is not a valid change command`);
    }
    if (args === '') throw new InvalidArgument(`${instruction} requires at least one argument`);
    const env = () => envMap(config.Env);
    switch (instruction) {
      case 'ENV': {
        const vars = envMap(config.Env);
        for (const [k, v] of keyValues('ENV', args, vars)) vars.set(k, v);
        config.Env = [...vars].map(([k, v]) => `${k}=${v}`);
        break;
      }
      case 'LABEL': {
        const labels = { ...(config.Labels ?? {}) };
        for (const [k, v] of keyValues('LABEL', args, env())) labels[k] = v;
        config.Labels = labels;
        break;
      }
      case 'CMD':
        config.Cmd = commandForm('CMD', args);
        cmdSet = true;
        break;
      case 'ENTRYPOINT':
        config.Entrypoint = commandForm('ENTRYPOINT', args);
        // As in a Dockerfile: a new ENTRYPOINT drops an inherited CMD unless CMD was set here.
        if (!cmdSet) config.Cmd = null;
        break;
      case 'WORKDIR': {
        const dir = words(args, env()).join(' ');
        config.WorkingDir = path.posix.join('/', dir.startsWith('/') ? '' : (config.WorkingDir ?? '/'), dir);
        break;
      }
      case 'USER':
        config.User = words(args, env()).join(' ');
        break;
      case 'EXPOSE': {
        const ports = { ...(config.ExposedPorts ?? {}) };
        for (const port of words(args, env())) for (const p of exposedPorts(port)) ports[p] = {};
        config.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const volumes = { ...(config.Volumes ?? {}) };
        const list = args.startsWith('[') ? jsonArray('VOLUME', args) : words(args, env());
        for (const v of list) {
          if (v.trim() === '') throw new InvalidArgument('VOLUME specified can not be an empty string');
          volumes[v] = {};
        }
        config.Volumes = volumes;
        break;
      }
      case 'ONBUILD': {
        // Stored for a later build, as Docker keeps it: the trigger's instruction upper-cased.
        const trigger = /^(\S+)\s*([\s\S]*)$/.exec(args)!;
        const what = trigger[1]!.toUpperCase();
        if (what === 'ONBUILD') throw new InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (what === 'FROM' || what === 'MAINTAINER') throw new InvalidArgument(`${what} isn't allowed as an ONBUILD trigger`);
        config.OnBuild = [...(config.OnBuild ?? []), `${what} ${trigger[2]!.trim()}`.trim()];
        break;
      }
      case 'HEALTHCHECK':
        config.Healthcheck = healthcheck(args);
        break;
      case 'STOPSIGNAL': {
        const signal = words(args, env()).join(' ');
        if (!/^(?:SIG)?[A-Z][A-Z0-9+-]*$|^[0-9]+$/.test(signal)) throw new InvalidArgument(`invalid signal: ${signal}`);
        config.StopSignal = signal;
        break;
      }
    }
  }
  return config;
}

/** Go durations as HEALTHCHECK's flags take them (`30s`, `1m30s`, `500ms`), in nanoseconds. */
const nanosPerUnit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

function duration(flag: string, text: string): number {
  if (text === '0') return 0;
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) throw new InvalidArgument(`HEALTHCHECK: invalid duration for --${flag}: ${text}`);
  let ns = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ns += Number(m[1]) * nanosPerUnit[m[2]!]!;
  if (ns !== 0 && ns < 1e6) throw new InvalidArgument(`HEALTHCHECK: --${flag} cannot be less than 1ms`);
  return Math.round(ns);
}

/** `HEALTHCHECK NONE` or `HEALTHCHECK [--interval=… --timeout=… --start-period=… --retries=N] CMD command`. */
function healthcheck(args: string): NonNullable<ContainerConfig['Healthcheck']> {
  if (/^NONE$/i.test(args)) return { Test: ['NONE'] };
  const health: NonNullable<ContainerConfig['Healthcheck']> = {};
  let rest = args;
  for (;;) {
    const flag = /^--([a-z-]+)=(\S*)\s*/.exec(rest);
    if (!flag) break;
    rest = rest.slice(flag[0].length);
    const [, name, value] = flag;
    if (name === 'interval') health.Interval = duration(name, value!);
    else if (name === 'timeout') health.Timeout = duration(name, value!);
    else if (name === 'start-period') health.StartPeriod = duration(name, value!);
    else if (name === 'retries') {
      if (!/^\d+$/.test(value!)) throw new InvalidArgument(`HEALTHCHECK: invalid --retries: ${value}`);
      health.Retries = Number(value);
    } else throw new InvalidArgument(`HEALTHCHECK: unknown flag: --${name}`);
  }
  const cmd = /^CMD\s+([\s\S]+)$/i.exec(rest);
  if (!cmd) throw new InvalidArgument('HEALTHCHECK: expected NONE or CMD followed by a command');
  const command = cmd[1]!.trim();
  const form = commandForm('HEALTHCHECK', command);
  health.Test = form[0] === '/bin/sh' && form[1] === '-c' && !command.startsWith('[') ? ['CMD-SHELL', command] : ['CMD', ...form];
  return health;
}

function commandForm(instruction: string, args: string): string[] {
  if (args.startsWith('[')) {
    try {
      return jsonArray(instruction, args);
    } catch {
      // Docker falls back to the shell form when the brackets are not valid JSON.
    }
  }
  return ['/bin/sh', '-c', args];
}

function jsonArray(instruction: string, args: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(args);
  } catch {
    throw new InvalidArgument(`${instruction}: invalid JSON array: ${args}`);
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new InvalidArgument(`${instruction}: expected a JSON array of strings: ${args}`);
  }
  return value;
}

function keyValues(instruction: string, args: string, env: Map<string, string>): Array<[string, string]> {
  const list = words(args, env);
  if (!list[0]!.includes('=')) {
    // The old form, `ENV KEY value with spaces`: one pair, the value is the rest.
    const m = /^(\S+)\s+([\s\S]+)$/.exec(args);
    if (!m) throw new InvalidArgument(`${instruction} names ${list[0]} without a value`);
    return [[words(m[1]!, env).join(''), words(m[2]!, env).join(' ')]];
  }
  return list.map((word) => {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new InvalidArgument(`${instruction}: expected key=value, got ${JSON.stringify(word)}`);
    return [word.slice(0, eq), word.slice(eq + 1)];
  });
}

function exposedPorts(spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  if (!m) throw new InvalidArgument(`invalid port for EXPOSE: ${spec}`);
  const first = Number(m[1]);
  const last = m[2] !== undefined ? Number(m[2]) : first;
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (first < 1 || last > 65535 || last < first) throw new InvalidArgument(`invalid port range for EXPOSE: ${spec}`);
  const out: string[] = [];
  for (let p = first; p <= last; p++) out.push(`${p}/${proto}`);
  return out;
}

function envMap(env: string[] | null | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of env ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) map.set(e.slice(0, eq), e.slice(eq + 1));
    else map.set(e, '');
  }
  return map;
}

/**
 * Split like a Dockerfile's shell-free word splitting: whitespace separates words,
 * `"…"` and `'…'` group, a backslash escapes, `$VAR`/`${VAR}` expand outside single quotes.
 */
function words(input: string, env: Map<string, string>): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  const expand = (): string => {
    // at input[i] === '$'
    if (input[i + 1] === '{') {
      const end = input.indexOf('}', i + 2);
      if (end < 0) throw new InvalidArgument(`missing '}' in ${JSON.stringify(input)}`);
      const name = input.slice(i + 2, end);
      i = end + 1;
      return env.get(name) ?? '';
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(input.slice(i + 1));
    if (!m) {
      i++;
      return '$';
    }
    i += 1 + m[0].length;
    return env.get(m[0]) ?? '';
  };
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      i++;
    } else if (c === '\\' && i + 1 < input.length) {
      cur += input[i + 1];
      inWord = true;
      i += 2;
    } else if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) throw new InvalidArgument(`unmatched quote in ${JSON.stringify(input)}`);
      cur += input.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      for (;;) {
        if (i >= input.length) throw new InvalidArgument(`unmatched quote in ${JSON.stringify(input)}`);
        const d = input[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\' && i + 1 < input.length && /["\\$]/.test(input[i + 1]!)) {
          cur += input[i + 1];
          i += 2;
        } else if (d === '$') {
          cur += expand();
        } else {
          cur += d;
          i++;
        }
      }
    } else if (c === '$') {
      cur += expand();
      inWord = true;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) out.push(cur);
  return out;
}
