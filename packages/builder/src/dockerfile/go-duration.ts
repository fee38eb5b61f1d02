/**
 * Go's time.ParseDuration and Duration.String, which HEALTHCHECK's flags and the
 * classic builder's history text use: `1h30m`, `1.5s`, `300ms`, `0`. Nanoseconds as a
 * number (exact up to 2^53 ns, about 104 days).
 */
const unitNanos: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** The duration in nanoseconds, or undefined when `text` is not a Go duration. */
export function parseGoDuration(text: string): number | undefined {
  const m = /^([-+]?)([\s\S]*)$/.exec(text)!;
  const sign = m[1] === '-' ? -1 : 1;
  const body = m[2]!;
  if (body === '0') return 0;
  if (body === '') return undefined;
  let total = 0;
  let rest = body;
  while (rest !== '') {
    const part = /^(\d*(?:\.\d*)?)(ns|us|µs|μs|ms|s|m|h)/.exec(rest);
    if (!part || part[1] === '' || part[1] === '.') return undefined;
    total += Number(part[1]) * unitNanos[part[2]!]!;
    rest = rest.slice(part[0].length);
  }
  return sign * Math.round(total);
}

/** Go's Duration.String: `0s`, `1.5ms`, `2m30s`, `1h0m0s`. */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const negative = ns < 0;
  let n = Math.abs(ns);
  let out: string;
  if (n < 1e9) {
    const [unit, size] = n < 1e3 ? ['ns', 1] : n < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = `${trimFraction(n / (size as number))}${unit}`;
  } else {
    const hours = Math.floor(n / 3600e9);
    n -= hours * 3600e9;
    const minutes = Math.floor(n / 60e9);
    n -= minutes * 60e9;
    const seconds = `${trimFraction(n / 1e9)}s`;
    out = hours > 0 ? `${hours}h${minutes}m${seconds}` : minutes > 0 ? `${minutes}m${seconds}` : seconds;
  }
  return negative ? `-${out}` : out;
}

function trimFraction(value: number): string {
  return Number(value.toFixed(9)).toString();
}
