/**
 * Sizes, durations and byte amounts the way the docker CLI writes and reads them (its
 * go-units library): `1.98MB` (decimal, 3 significant digits), `5 seconds ago`, `64m`.
 */

/** Go's `%.<precision>g`: shortest of fixed/exponent, trailing zeros dropped, `e+03` style exponents. */
export function formatG(x: number, precision: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : Number.isNaN(x) ? 'NaN' : '-Inf';
  const p = Math.max(1, precision);
  const [mantissa, expText] = x.toExponential(p - 1).split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= p) {
    const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    const sign = exp < 0 ? '-' : '+';
    return `${m}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const fixed = x.toFixed(Math.max(0, p - 1 - exp));
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function scaled(size: number, base: number, units: string[], precision: number): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return `${formatG(size, precision)}${units[i]}`;
}

/** `docker images` / `ps -s` sizes: decimal units, 3 significant digits (`1.98MB`, `0B`). */
export function humanSize(bytes: number, precision = 3): string {
  return scaled(bytes, 1000, DECIMAL_UNITS, precision);
}

/** Binary units with 4 significant digits, as `docker info` prints memory (`23.54GiB`). */
export function bytesSize(bytes: number): string {
  return scaled(bytes, 1024, BINARY_UNITS, 4);
}

/** A duration as `docker ps` says it: `Less than a second`, `5 seconds`, `About a minute`, `3 weeks`. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

/** `5 seconds ago` for a unix-seconds timestamp. */
export function timeAgo(unixSeconds: number, nowMs: number): string {
  return `${humanDuration(nowMs - unixSeconds * 1000)} ago`;
}

const BINARY_MULTIPLIERS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** `64m`, `1.5g`, `512k`, `100` → bytes (binary multiples), as `--memory` reads them. */
export function ramInBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kmgtp])?i?b?$/i.exec(text);
  const n = m ? Number(m[1]) : NaN;
  if (!m || Number.isNaN(n)) throw new Error(`invalid size: '${text}'`);
  const mul = m[2] ? BINARY_MULTIPLIERS[m[2].toLowerCase()]! : 1;
  return Math.trunc(n * mul);
}

/** `--cpus 1.5` → 1500000000 nano-CPUs; more than 9 decimals is "too precise", like docker. */
export function parseNanoCpus(text: string): number {
  const m = /^(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (!m || (m[1] === '' && !m[2])) throw new Error(`failed to parse ${text} as a rational number`);
  const fraction = (m[2] ?? '').replace(/0+$/, '');
  if (fraction.length > 9) throw new Error('value is too precise');
  return Number(m[1] || '0') * 1e9 + Number(fraction.padEnd(9, '0') || '0');
}
