import { createHash, type Hash } from 'node:crypto';
import { InvalidArgument } from '@berth/core';

/**
 * A content digest as OCI and Docker write it: `sha256:<64 lowercase hex>`. berth only
 * produces and accepts sha256 (the only algorithm Docker and the registries use for
 * images); anything else is refused where it enters, by `parseDigest`.
 */
export type Digest = `sha256:${string}`;

const digestPattern = /^sha256:[0-9a-f]{64}$/;

/** True when `value` is a well-formed sha256 digest. */
export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && digestPattern.test(value);
}

/** Check a digest that came from outside; throws InvalidArgument naming it. */
export function parseDigest(value: string): Digest {
  if (isDigest(value)) return value;
  if (typeof value === 'string' && /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/.test(value)) {
    if (!value.startsWith('sha256:')) throw new InvalidArgument(`unsupported digest algorithm: ${value}`);
  }
  throw new InvalidArgument(`invalid digest format: ${JSON.stringify(value)}`);
}

/** The hex part of a digest: the file name in the blob store, the image id without its prefix. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

/** The 12-hex short form Docker prints (`01e7ee02ed05`). */
export function shortId(digest: Digest | string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/** The digest of bytes (or of a UTF-8 string) held in memory. */
export function sha256Digest(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** An incremental sha256 for data that arrives in pieces; also counts the bytes. */
export class Digester {
  private readonly hash: Hash = createHash('sha256');
  /** Bytes seen so far. */
  size = 0;

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.length;
  }

  /** The digest of everything seen; call once, at the end. */
  digest(): Digest {
    return `sha256:${this.hash.digest('hex')}`;
  }

  /** Pass `stream` through unchanged, hashing each chunk on its way. */
  async *tee(stream: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of stream) {
      this.update(chunk);
      yield chunk;
    }
  }
}
