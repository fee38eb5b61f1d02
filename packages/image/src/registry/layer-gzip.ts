import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import type { ContentStore } from '../content-store.js';
import { type Digest, Digester } from '../digest.js';

/** A layer as a push sends it: gzip of a stored uncompressed blob, its digest and size. */
export interface GzipLayer {
  digest: Digest;
  size: number;
}

/**
 * What gzip makes of the blob `source` (the same settings give the same bytes, so the
 * digest found by one pass is the digest of the next). Remembered per process: a push
 * that runs again, or another tag of the same image, gzips each layer only to send it.
 */
const known = new Map<Digest, GzipLayer>();

/**
 * The digest and size of the gzip of the stored blob `source` (an uncompressed layer:
 * registries and Docker expect compressed layers), computed without writing it anywhere.
 */
export async function gzipLayerDigest(content: ContentStore, source: Digest, signal?: AbortSignal): Promise<GzipLayer> {
  const cached = known.get(source);
  if (cached) return cached;
  const digester = new Digester();
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => digester.update(chunk));
  await pipeline(await content.get(source), zlib.createGzip(gzipSettings), sink, { signal });
  const result = { digest: digester.digest(), size: digester.size };
  known.set(source, result);
  return result;
}

/** The gzip bytes of the stored blob `source`, as `gzipLayerDigest` measured them. */
export async function gzipLayerStream(content: ContentStore, source: Digest): Promise<AsyncIterable<Uint8Array>> {
  const gzip = zlib.createGzip(gzipSettings);
  const input = await content.get(source);
  input.on('error', (err) => gzip.destroy(err));
  return input.pipe(gzip);
}

// Fixed, so the bytes (and their digest) do not depend on zlib's defaults changing.
const gzipSettings: zlib.ZlibOptions = { level: 6, memLevel: 8, windowBits: 15 };
