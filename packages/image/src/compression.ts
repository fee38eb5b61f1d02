import { pipeline, Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { InvalidArgument, isBerthError } from '@berth/core';
import { asyncBytes, type ByteSource } from './byte-source.js';
import { inflateMembers } from './gzip-members.js';
import { peek } from './peek.js';

/** How a layer's bytes are compressed. Docker and OCI layers are plain, gzip or zstd. */
export type Compression = 'none' | 'gzip' | 'zstd';

/**
 * The compression of a stream from its first bytes (magic numbers), as Docker decides:
 * the media type of a blob is not trusted, the bytes are. Formats berth cannot read
 * (bzip2, xz) are refused by name rather than misread as tar.
 */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) {
    throw new InvalidArgument('unsupported compression: bzip2 (use plain, gzip or zstd tar)');
  }
  if (
    head.length >= 6 &&
    head[0] === 0xfd &&
    head[1] === 0x37 &&
    head[2] === 0x7a &&
    head[3] === 0x58 &&
    head[4] === 0x5a &&
    head[5] === 0x00
  ) {
    throw new InvalidArgument('unsupported compression: xz (use plain, gzip or zstd tar)');
  }
  return 'none';
}

/** A stream whose compression has been detected and removed. */
export interface Decompressed {
  compression: Compression;
  /** The uncompressed bytes. */
  stream: AsyncIterable<Buffer>;
}

/**
 * Peek at the first bytes of `source`, detect its compression and return the
 * uncompressed bytes as a stream. Nothing is read beyond the first chunk(s) until the
 * caller iterates `stream`.
 */
export async function decompress(source: ByteSource): Promise<Decompressed> {
  const peeked = await peek(asyncBytes(source), 6);
  const compression = detectCompression(peeked.head);
  let sourceFailed = false;
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      yield* peeked.stream;
    } catch (err) {
      sourceFailed = true;
      throw err;
    }
  }
  if (compression === 'none') return { compression, stream: replay() };
  // gzip made by berth's push inflates member by member on the thread pool; other gzip streams with zlib.
  const inflated = compression === 'gzip' ? inflateMembers(replay(), (rest) => streamDecode(rest, 'gzip')) : streamDecode(replay(), 'zstd');
  async function* decoded(): AsyncGenerator<Buffer> {
    try {
      yield* inflated;
    } catch (err) {
      // The source's own errors pass as they are; the decoder's mean corrupt input.
      if (sourceFailed || isBerthError(err, 'InvalidArgument')) throw err;
      throw new InvalidArgument(`corrupt ${compression} data: ${(err as Error).message}`, { cause: err });
    }
  }
  return { compression, stream: decoded() };
}

/** zlib's streaming decoder of `source`. */
function streamDecode(source: AsyncIterable<Buffer>, compression: 'gzip' | 'zstd'): AsyncIterable<Buffer> {
  // 256 KiB output chunks (zlib's default is 16 KiB): each chunk costs a trip through the
  // consumer's async iterators (tar reader, digest), so fewer chunks cost less CPU.
  const decoder =
    compression === 'gzip' ? zlib.createGunzip({ chunkSize: 256 << 10 }) : zlib.createZstdDecompress({ chunkSize: 256 << 10 });
  // pipeline carries an error of either side to the other, so the consumer's loop throws.
  pipeline(Readable.from(source, { objectMode: false }), decoder, () => {});
  return decoder as AsyncIterable<Buffer>;
}
