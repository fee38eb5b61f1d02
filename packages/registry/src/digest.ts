import { createHash, type Hash } from 'node:crypto';
import { DistributionError } from './distribution-error.js';

/** The digest algorithms the registry can verify, with the length of their hex encoding. */
const ALGORITHMS: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

/** A parsed `algorithm:hex` digest. */
export interface Digest {
  algorithm: string;
  hex: string;
  /** `algorithm:hex`, as it appears on the wire. */
  text: string;
}

/** Parses a digest the registry can verify; undefined when `text` is not one. */
export function parseDigest(text: string): Digest | undefined {
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  const algorithm = text.slice(0, colon);
  const hex = text.slice(colon + 1);
  const length = ALGORITHMS[algorithm];
  if (length === undefined || hex.length !== length || !/^[a-f0-9]+$/.test(hex)) return undefined;
  return { algorithm, hex, text };
}

/** Parses a digest or throws DIGEST_INVALID naming it. */
export function requireDigest(text: string | undefined, what = 'digest'): Digest {
  const d = text === undefined ? undefined : parseDigest(text);
  if (!d) throw new DistributionError('DIGEST_INVALID', `invalid ${what}: "${text ?? ''}" (want sha256:<64 hex> or sha512:<128 hex>)`);
  return d;
}

/** True when `text` looks like a digest reference (`alg:…`) rather than a tag. */
export function looksLikeDigest(text: string): boolean {
  return text.includes(':');
}

/** A hash of `algorithm` to feed while streaming. */
export function digester(algorithm: string): Hash {
  return createHash(algorithm);
}

/** The digest of bytes held in memory (manifests only; blobs are hashed as they stream). */
export function digestOf(bytes: Uint8Array, algorithm = 'sha256'): Digest {
  const hex = createHash(algorithm).update(bytes).digest('hex');
  return { algorithm, hex, text: `${algorithm}:${hex}` };
}
