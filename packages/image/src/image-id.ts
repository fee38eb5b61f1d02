import type { Digest } from './digest.js';

/**
 * Image ids are the digests of image configs. Users write them whole
 * (`sha256:<64 hex>`, `<64 hex>`) or as prefixes (`sha256:01e7`, `01e7ee02ed05`).
 *
 * A bare hex string such as `01e7ee02ed05` is also a valid repository name, so a
 * caller that accepts both (ImageStore.get) tries it as a reference first and as an
 * id prefix second, which is Docker's order.
 */

const fullId = /^(?:sha256:)?([0-9a-f]{64})$/;
const prefixedId = /^sha256:([0-9a-f]{1,64})$/;

/** The full image id (`sha256:<hex>`) when `value` is one, written with or without `sha256:`. */
export function parseFullImageId(value: string): Digest | undefined {
  const m = fullId.exec(value);
  return m ? `sha256:${m[1]!}` : undefined;
}

/**
 * The hex prefix when `value` looks like an image id or an id prefix: `sha256:` with
 * 1-64 hex digits, or `minBareLength`-64 bare hex digits (12 by default: Docker's short
 * id; shorter bare hex strings read more naturally as names).
 */
export function parseImageIdPrefix(value: string, minBareLength = 12): string | undefined {
  const m = prefixedId.exec(value);
  if (m) return m[1]!;
  if (value.length >= minBareLength && value.length <= 64 && /^[0-9a-f]+$/.test(value)) return value;
  return undefined;
}
