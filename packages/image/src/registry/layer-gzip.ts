import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { SystemError } from '@berth/core';
import type { ContentStore } from '../content-store.js';
import { type Digest, Digester } from '../digest.js';

/** The gzip of a stored uncompressed layer, as a push sends it. */
export interface GzipLayer {
  digest: Digest;
  size: number;
}

/** A `GzipLayer` written out, to upload from; `remove` when done. */
export interface GzipLayerFile extends GzipLayer {
  path: string;
  remove(): Promise<void>;
}

/**
 * The digest and size of each layer gzipped in this process, by the digest of its stored
 * blob: a push that runs again (or another tag of the image) asks the registry whether it
 * has the blob without compressing the layer again. The same settings give the same
 * bytes, so a layer compressed again has the digest remembered (`gzipLayerFile` checks).
 */
const known = new Map<Digest, GzipLayer>();

/** What an earlier `gzipLayerFile` of this process found for `source`, if any. */
export function knownGzipLayer(source: Digest): GzipLayer | undefined {
  return known.get(source);
}

/**
 * Compress the stored blob `source` (an uncompressed layer: registries and Docker expect
 * compressed layers) into a scratch file of the content store, hashing as it goes: one
 * pass for both the digest and the bytes to send. The file is the caller's to `remove`;
 * a crash leaves it where the store's next `open` removes it.
 */
export async function gzipLayerFile(content: ContentStore, source: Digest, signal?: AbortSignal): Promise<GzipLayerFile> {
  const scratch = content.scratchFile();
  const digester = new Digester();
  try {
    await pipeline(
      await content.get(source),
      zlib.createGzip(gzipSettings),
      digester.tee.bind(digester),
      createWriteStream(scratch.path, { flags: 'wx', mode: 0o600 }),
      {
        signal,
      },
    );
  } catch (err) {
    await scratch.remove();
    throw err;
  }
  const result: GzipLayer = { digest: digester.digest(), size: digester.size };
  const earlier = known.get(source);
  if (earlier && earlier.digest !== result.digest) {
    await scratch.remove();
    throw new SystemError(`gzip of layer ${source} gave ${result.digest}, earlier ${earlier.digest}: compression is not reproducible here`);
  }
  known.set(source, result);
  return { ...result, path: scratch.path, remove: scratch.remove };
}

// Fixed, so the bytes (and their digest) do not depend on zlib's defaults changing.
const gzipSettings: zlib.ZlibOptions = { level: 6, memLevel: 8, windowBits: 15 };
