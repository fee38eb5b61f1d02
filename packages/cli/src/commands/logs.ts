import { type Command, PROG } from '../command.js';
import { StatusError } from '../errors.js';

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's `time.ParseDuration` (`10s`, `1h30m`, `1.5h`), in milliseconds; null if it is not one. */
export function parseGoDuration(text: string): number | null {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(text);
  if (!m) return null;
  let total = 0;
  for (const part of text.replace(/^[-+]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(part[1]) * UNIT_MS[part[2]!]!;
  }
  return m[1] === '-' ? -total : total;
}

/**
 * docker's `--since`/`--until` value as the API wants it: a duration (`10m`) is counted
 * back from now and sent as unix seconds; a timestamp (RFC 3339, a date, with or without
 * zone) becomes `seconds.nanoseconds`; a unix time passes through.
 */
export function apiTimestamp(value: string, nowMs: number, flag: string): string {
  const d = value === '0' ? null : parseGoDuration(value);
  if (d !== null) return String(Math.floor((nowMs - d) / 1000));
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  let text = value;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text += 'T00:00:00';
  else if (/^\d{4}-\d{2}-\d{2}T\d{2}(:\d{2})?$/.test(text)) text += text.length === 13 ? ':00:00' : ':00';
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new StatusError(`invalid value for "${flag}": failed to parse value as time or duration: "${value}"`, 1);
  const nanos = /\.(\d+)/.exec(value)?.[1]?.slice(0, 9).padEnd(9, '0') ?? '000000000';
  return `${Math.floor(ms / 1000)}.${nanos}`;
}

export const logsCommand: Command = {
  name: 'logs',
  usage: '[OPTIONS] CONTAINER',
  summary: 'Fetch the logs of a container',
  aliases: `${PROG} container logs, ${PROG} logs`,
  flags: [
    { long: 'details', kind: 'bool', help: 'Show extra details provided to logs' },
    { long: 'follow', short: 'f', kind: 'bool', help: 'Follow log output' },
    {
      long: 'since',
      kind: 'string',
      help: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
    },
    { long: 'tail', short: 'n', kind: 'string', help: 'Number of lines to show from the end of the logs', def: '"all"' },
    { long: 'timestamps', short: 't', kind: 'bool', help: 'Show timestamps' },
    {
      long: 'until',
      kind: 'string',
      help: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
    },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, [name]) {
    const now = ctx.io.now();
    const since = flags.string('since');
    const until = flags.string('until');
    const tail = flags.string('tail') ?? 'all';
    await ctx.client().containers.logs(
      name!,
      {
        follow: flags.bool('follow'),
        timestamps: flags.bool('timestamps'),
        since: since ? apiTimestamp(since, now, 'since') : undefined,
        until: until ? apiTimestamp(until, now, 'until') : undefined,
        tail: /^\d+$/.test(tail) ? Number(tail) : 'all',
      },
      { stdout: ctx.io.stdout, stderr: ctx.io.stderr },
    );
    return 0;
  },
};
