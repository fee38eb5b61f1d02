import type { ByteSource } from './byte-source.js';
import type { Compression } from './compression.js';
import { decompress } from './compression.js';
import { type Digest, Digester } from './digest.js';
import { readTar } from './tar/reader.js';

/** What reading a layer blob through tells about it. */
export interface LayerScan {
  /** sha256 of the uncompressed tar: the layer's identity in image configs. */
  diffId: Digest;
  compression: Compression;
  /** Sum of the sizes of the regular files in the layer: what Docker reports as its size. */
  size: number;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
  /** Number of entries in the tar. */
  entries: number;
}

/**
 * Read a layer blob (plain, gzip or zstd tar) to the end: its diffID, its sizes, and
 * the proof that it is a readable tar. Unpacks nothing.
 */
export async function scanLayer(source: ByteSource): Promise<LayerScan> {
  const { compression, stream } = await decompress(source);
  const digester = new Digester();
  let size = 0;
  let entries = 0;
  for await (const entry of readTar(digester.tee(stream))) {
    entries++;
    size += entry.size;
  }
  return { diffId: digester.digest(), compression, size, tarSize: digester.size, entries };
}
