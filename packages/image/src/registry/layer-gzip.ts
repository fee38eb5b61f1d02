import { SystemError } from '@berth/core';
import { gzipMember } from '@berth/native';
import type { ContentStore } from '../content-store.js';
import { type Digest, Digester } from '../digest.js';

/** The gzip of a stored uncompressed layer, as a push sends it. */
export interface GzipLayer {
  digest: Digest;
  size: number;
}

/** A layer being gzipped on its way out: `chunks` to send, then `result()` once they are all read. */
export interface GzipLayerStream {
  chunks: AsyncIterable<Buffer>;
  /** The digest and size of what `chunks` gave; throws before the last chunk was read. */
  result(): GzipLayer;
}

/**
 * Compress the stored blob `source` as it is sent: nothing is written locally, so the
 * compression overlaps the upload and there is no scratch file to write and read back;
 * the digest is known once the last chunk is out (a streamed upload's closing `PUT
 * ?digest=`). The caller remembers it (`LayerStore.rememberGzip`), so a later push asks
 * the registry before compressing again.
 *
 * The layer is cut into blocks of `gzipBlockSize` and each block becomes one gzip member
 * (@berth/native's `gzipMember`: libdeflate on libuv's thread pool), `gzipBlocksInFlight`
 * of them at once, sent in order: one layer uses every core, and libdeflate at level 1 is
 * about twice zlib's level-1 speed for fewer bytes. A gzip of several members is one
 * stream to every reader (RFC 1952 2.2; Go's gzip, which dockerd and containerd use, and
 * Node's zlib read it whole), as pigz and bgzip write it; restarting the dictionary every
 * MiB costs well under 1% of the size. The bytes depend only on the layer, the block size
 * and the level, so compressing again gives the digest remembered.
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
    // Members compressing, in order; each already has a handler, so one that fails while an
    // earlier one is awaited is not an unhandled rejection (it is thrown when its turn comes).
    const pending: Promise<Buffer>[] = [];
    const submit = (block: Buffer) => {
      const member = gzipMember(block, gzipLevel);
      member.catch(() => {});
      pending.push(member);
    };
    let parts: Buffer[] = [];
    let length = 0;
    let read = 0;
    let blocks = 0;
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        signal?.throwIfAborted();
        read += chunk.length;
        // Progress counts the layer's own bytes, as dockerd's does: how far through the tar it is.
        onRead?.(read);
        let rest = chunk;
        while (length + rest.length >= gzipBlockSize) {
          const take = gzipBlockSize - length;
          // A read of exactly one block (the usual case: the store reads 1 MiB) is sent as is.
          const block = length === 0 && take === rest.length ? rest : Buffer.concat([...parts, rest.subarray(0, take)], gzipBlockSize);
          submit(block);
          blocks++;
          parts = [];
          length = 0;
          rest = rest.subarray(take);
          while (pending.length >= gzipBlocksInFlight) {
            const member = await pending.shift()!;
            digester.update(member);
            yield member;
          }
        }
        if (rest.length > 0) {
          parts.push(rest);
          length += rest.length;
        }
      }
      // The last, shorter block; an empty layer is one empty member (a gzip needs one).
      if (length > 0 || blocks === 0) submit(Buffer.concat(parts, length));
      while (pending.length > 0) {
        signal?.throwIfAborted();
        const member = await pending.shift()!;
        digester.update(member);
        yield member;
      }
    } finally {
      input.destroy();
    }
    done = { digest: digester.digest(), size: digester.size };
  }
  return {
    chunks: chunks(),
    result: () => {
      if (!done) throw new SystemError(`gzip of layer ${source} read before its end`);
      return done;
    },
  };
}

// Fixed, so the bytes (and their digest) never depend on a default changing. Level 1:
// libdeflate's fastest, which on bench/push-pull.js's text layers and on a tar of
// /usr/lib gave fewer bytes than zlib's level 1 at about twice its speed; a registry
// accepts any valid gzip alike. 1 MiB blocks: the store's read size, big enough that the
// dictionary restart costs little, small enough that a layer spreads over every core.
export const gzipBlockSize = 1 << 20;
const gzipLevel = 1;
/** Blocks of one layer compressing at once: libuv's default pool (4 threads), so one layer fills every core. */
const gzipBlocksInFlight = 4;
