import type { IncomingMessage } from 'node:http';
import { DistributionError } from '../distribution-error.js';

/** Reads a small body whole (a manifest), refusing one larger than `limit` bytes. */
export async function readSmallBody(req: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    throw new DistributionError('SIZE_INVALID', `${what} is ${declared} bytes, more than the ${limit} allowed`, undefined, { status: 413 });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw new DistributionError('SIZE_INVALID', `${what} is more than the ${limit} bytes allowed`, undefined, { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** True when the request carries a body (a length above 0, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/** A `Content-Range` of an upload chunk: `<start>-<end>`, inclusive (the spec's form; `bytes ` and `bytes=` prefixes tolerated). */
export function parseContentRange(header: string | undefined): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) throw new DistributionError('BLOB_UPLOAD_INVALID', `invalid Content-Range "${header}" (want <start>-<end>)`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new DistributionError('BLOB_UPLOAD_INVALID', `invalid Content-Range "${header}": the end is before the start`);
  return { start, end };
}

/**
 * A `Range` of a blob GET against a blob of `size` bytes: `bytes=a-b`, `bytes=a-`,
 * `bytes=-n`. Undefined: no range, or one this server serves whole (several ranges).
 * 'unsatisfiable' for a range outside the blob (416).
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}
