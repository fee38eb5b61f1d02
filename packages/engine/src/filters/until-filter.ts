import { InvalidArgument } from '@berth/core';

/** Go's durations as `--filter until=` takes them: `10m`, `1h30m`, `1.5h`, `300ms`. */
const durationUnits: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `until`'s value (a unix time, an RFC 3339 time, or a duration before now) as epoch milliseconds. */
export function untilMs(value: string, now = Date.now()): number {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) {
    let ms = 0;
    for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * durationUnits[m[2]!]!;
    return now - ms;
  }
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) throw new InvalidArgument(`failed to parse value as time or duration: "${value}"`);
  return parsed;
}
