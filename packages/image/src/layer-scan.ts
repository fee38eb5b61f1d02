import type { ByteSource } from './byte-source.js';
import type { Compression } from './compression.js';
import { decompress } from './compression.js';
import { type Digest, Digester } from './digest.js';
import { readTar } from './tar/reader.js';
import { LayerChecker, type LayerCheckOptions } from './unpack/layer-check.js';
import { SpaceGuard } from './unpack/space-guard.js';

/** Options of `scanLayer`. */
export interface ScanLayerOptions {
  /**
   * Also check that `applyLayer` would accept the layer as a base layer (`LayerChecker`),
   * refusing with its InvalidArgument at the first entry it would refuse.
   */
  check?: boolean | LayerCheckOptions;
  /**
   * With `check`: do not throw at the first entry the checker refuses; record it in
   * `refusedAsBase` and read on (a layer that is refused as a base layer may still be
   * fine above others: `load` decides once it knows where each layer sits).
   */
  recordRefusal?: boolean;
  /**
   * A directory on the filesystem the layer's bytes are being stored on: each file's
   * declared size is claimed there before its body streams (`SpaceGuard`), so a
   * decompression bomb is refused before it fills the disk.
   */
  spaceDir?: string;
  /**
   * The digest of the very bytes being scanned, computed elsewhere (the content store's
   * `ingest` of the same stream): when the layer is not compressed, its diffID is that
   * digest, so the scan does not hash the bytes a second time. Called once the scan has
   * read everything. A compressed layer is hashed as it is decompressed, as without it.
   */
  plainDigest?: () => Promise<Digest>;
}

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
  /** With `check` and `recordRefusal`: why `applyLayer` would refuse the layer on an empty root. */
  refusedAsBase?: Error;
}

/**
 * Read a layer blob (plain, gzip or zstd tar) to the end: its diffID, its sizes, and
 * the proof that it is a readable tar (with `check`, one `applyLayer` would unpack).
 * Unpacks nothing.
 */
export async function scanLayer(source: ByteSource, options: ScanLayerOptions = {}): Promise<LayerScan> {
  const { compression, stream } = await decompress(source);
  const reuse = compression === 'none' ? options.plainDigest : undefined;
  const digester = reuse ? undefined : new Digester();
  let tarSize = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of stream) {
      tarSize += chunk.length;
      yield chunk;
    }
  }
  const checker = options.check ? new LayerChecker(options.check === true ? {} : options.check) : undefined;
  const space = options.spaceDir === undefined ? undefined : new SpaceGuard(options.spaceDir);
  let size = 0;
  let entries = 0;
  let refusedAsBase: Error | undefined;
  for await (const entry of readTar(digester ? digester.tee(stream) : counted())) {
    entries++;
    size += entry.size;
    if (checker && refusedAsBase === undefined) {
      try {
        checker.check(entry);
      } catch (err) {
        if (!options.recordRefusal) throw err;
        refusedAsBase = err as Error;
      }
    }
    // Headers and padding too: a bomb of a million empty files still takes the disk.
    space?.claim(entry.size + 1024, entry.path);
  }
  const scan: LayerScan = digester
    ? { diffId: digester.digest(), compression, size, tarSize: digester.size, entries }
    : { diffId: await reuse!(), compression, size, tarSize, entries };
  if (refusedAsBase) scan.refusedAsBase = refusedAsBase;
  return scan;
}
