import { InvalidArgument } from '@berth/volume-kit';

/** The smallest volume: ext4 with a journal needs a few MiB of its own. */
export const MIN_SIZE = 16 * 1024 * 1024;
/** The largest: what one sparse file and ext4's defaults comfortably hold. */
export const MAX_SIZE = 16 * 1024 ** 4;
/** A volume's size when `-o size=` is not given. */
export const DEFAULT_SIZE = 1024 ** 3;

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * `size=<n>[k|m|g|t][b|ib]` (binary units, any case: `512m`, `1G`, `2GiB`) in bytes,
 * rounded down to a multiple of 4 KiB (ext4's block); an InvalidArgument naming the
 * option for anything else or outside [16M, 16T].
 */
export function parseSize(text: string): number {
  const m = /^(\d+)([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m)
    throw new InvalidArgument(
      `invalid option size=${JSON.stringify(text)}: expected a number with an optional unit k, m, g or t (size=1G)`,
    );
  const bytes = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes) || bytes < MIN_SIZE || bytes > MAX_SIZE) {
    throw new InvalidArgument(`invalid option size=${JSON.stringify(text)}: must be between 16M and 16T`);
  }
  return bytes - (bytes % 4096);
}
