import * as zlib from 'node:zlib';
import { SystemError } from '@berth/core';
import type { ContentStore } from '../content-store.js';
import { type Digest, Digester } from '../digest.js';

/** The gzip of a stored uncompressed layer, as a push sends it. */
export interface GzipLayer {
  digest: Digest;
  size: number;
}

/**
 * The digest and size of each layer gzipped in this process, by the digest of its stored
 * blob: a push that runs again (or another tag of the image) asks the registry whether it
 * has the blob without compressing the layer again. The same settings give the same
 * bytes, so a layer compressed again has the digest remembered (`pushImage` checks).
 */
const known = new Map<Digest, GzipLayer>();

/** What an earlier `gzipLayerStream` of this process found for `source`, if any. */
export function knownGzipLayer(source: Digest): GzipLayer | undefined {
  return known.get(source);
}

/** A layer being gzipped on its way out: `chunks` to send, then `result()` once they are all read. */
export interface GzipLayerStream {
  chunks: AsyncIterable<Buffer>;
  /** The digest and size of what `chunks` gave; throws before the last chunk was read. */
  result(): GzipLayer;
}

/**
 * Compress the stored blob `source` as it is sent: nothing is written locally, so the
 * compression (on libuv's threadpool, one layer per thread) overlaps the upload and there
 * is no scratch file to write and read back; the digest is known once the last chunk is
 * out (a streamed upload's closing `PUT ?digest=`). It is then remembered
 * (`knownGzipLayer`), so a later push asks the registry before compressing again.
 */
export function gzipLayerStream(
  content: ContentStore,
  source: Digest,
  options: { signal?: AbortSignal; onRead?: (bytes: number) => void } = {},
): GzipLayerStream {
  const { signal, onRead } = options;
  const digester = new Digester();
  let done: GzipLayer | undefined;
  async function* chunks(): AsyncGenerator<Buffer> {
    const input = await content.get(source);
    const gzip = zlib.createGzip(gzipSettings);
    const abort = () => gzip.destroy(signal?.reason ?? new Error('aborted'));
    signal?.addEventListener('abort', abort, { once: true });
    input.on('error', (err) => gzip.destroy(err));
    let read = 0;
    // Progress counts the layer's own bytes, as dockerd's does: how far through the tar it is.
    if (onRead) {
      input.on('data', (chunk: Buffer) => {
        read += chunk.length;
        onRead(read);
      });
    }
    input.pipe(gzip);
    try {
      for await (const chunk of gzip as AsyncIterable<Buffer>) {
        digester.update(chunk);
        yield chunk;
      }
    } finally {
      signal?.removeEventListener('abort', abort);
      input.destroy();
      gzip.destroy();
    }
    done = { digest: digester.digest(), size: digester.size };
    known.set(source, done);
  }
  return {
    chunks: chunks(),
    result: () => {
      if (!done) throw new SystemError(`gzip of layer ${source} read before its end`);
      return done;
    },
  };
}

// Fixed, so the bytes (and their digest) do not depend on zlib's defaults changing. Level 1
// (zlib's deflate_fast): on text-like layers about twice the speed of level 6 for ~9% more
// bytes, and as fast as or faster than levels 2-3 for nearly their ratio (measured on
// bench/push-pull.js's layers); a registry accepts any valid gzip alike. 256 KiB output
// chunks: fewer, larger writes to the socket.
const gzipSettings: zlib.ZlibOptions = { level: 1, memLevel: 8, windowBits: 15, chunkSize: 256 << 10 };
