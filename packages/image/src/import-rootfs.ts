import { InvalidArgument, SystemError } from '@berth/core';
import type { ByteSource } from './byte-source.js';
import { applyChanges } from './changes.js';
import { decompress } from './compression.js';
import type { BlobInfo } from './content-store.js';
import type { Digest } from './digest.js';
import { type ContainerConfig, goArch, type ImageConfig } from './image-config.js';
import type { ImageStore } from './image-store.js';
import { type LayerScan, scanLayer } from './layer-scan.js';
import { normalizeReference, parseReference, type Reference, withTag } from './reference.js';
import { consumeTee } from './tee.js';

/** Options of `importRootfs` (the query of `POST /images/create?fromSrc=-`). */
export interface ImportOptions {
  /** Repository to tag the image with (`busybox`, `trc/x:1`); none leaves it untagged. */
  repo?: string;
  /** Tag for `repo` (default: the tag inside `repo`, else `latest`). */
  tag?: string;
  /** History comment; default `Imported from <source>`. */
  message?: string;
  /** Dockerfile instructions applied to the image config (see `applyChanges`). */
  changes?: string[];
  /** Where the tarball came from, for the default comment (`-` for a request body). */
  source?: string;
  /** Creation time written to the config (default: now); fixed for reproducible images. */
  created?: Date;
  /** Platform written to the config (default: this host's, with Go's names). */
  architecture?: string;
  os?: string;
}

/**
 * The name `repo[:tag]` asks for (import's and commit's query), or undefined without a
 * repository: a digest, or a tag without a repository, is an InvalidArgument.
 */
export function targetReference(what: string, repo: string | undefined, tag: string | undefined): Reference | undefined {
  if (repo === undefined || repo === '') {
    if (tag) throw new InvalidArgument('a tag needs a repository');
    return undefined;
  }
  const parsed = parseReference(repo);
  if (parsed.digest !== undefined) throw new InvalidArgument(`cannot ${what} to a digest reference: ${repo}`);
  return tag ? withTag(parsed, tag) : normalizeReference(parsed);
}

/** The image an import made. */
export interface ImportResult {
  id: Digest;
  diffIds: Digest[];
  /** The reference given to the image, when `repo` was set. */
  reference?: Reference;
}

/**
 * `docker import`: a rootfs tarball (plain, gzip or zstd) becomes a one-layer image.
 * The layer is stored uncompressed, so its blob digest is its diffID; the tar is read
 * once, hashed and checked as it is stored (every entry must be one `applyLayer` accepts
 * on an empty root: `LayerChecker`; an InvalidArgument names the first that is not), and never unpacked (the engine unpacks
 * layers into its storage driver when a container needs them). Name and changes are
 * checked before the stream is read, so a bad request stores nothing.
 */
export async function importRootfs(store: ImageStore, source: ByteSource, options: ImportOptions = {}): Promise<ImportResult> {
  const reference = targetReference('import', options.repo, options.tag);
  const containerConfig = applyChanges({}, options.changes ?? []);
  // Its blobs and layer record are no image's until the end: no removal may run meanwhile.
  return store.adding(() => importLayer(store, source, options, reference, containerConfig));
}

async function importLayer(
  store: ImageStore,
  source: ByteSource,
  options: ImportOptions,
  reference: Reference | undefined,
  containerConfig: ContainerConfig,
): Promise<ImportResult> {
  const { stream } = await decompress(source);
  // The layer is checked as it is stored: one that could never be unpacked is refused
  // now, not at the first run, and a bomb is refused before it fills the data root.
  // The stored blob is the uncompressed tar: its digest is the diffID, hashed once (by ingest).
  let stored: Promise<BlobInfo> | undefined;
  const [blob, scan] = await consumeTee<[BlobInfo, LayerScan]>(stream, [
    (s) => (stored = store.content.ingest(s)),
    (s) => scanLayer(s, { check: true, spaceDir: store.content.blobDir, plainDigest: async () => (await stored!).digest }),
  ]);
  if (blob.digest !== scan.diffId) throw new SystemError(`import: stored layer ${blob.digest} does not match its diffID ${scan.diffId}`);
  await store.layers.register({ diffId: scan.diffId, digest: blob.digest, compression: 'none', size: scan.size, tarSize: scan.tarSize });

  const created = (options.created ?? new Date()).toISOString();
  const config: ImageConfig = {
    architecture: options.architecture ?? goArch(),
    os: options.os ?? 'linux',
    created,
    config: containerConfig,
    rootfs: { type: 'layers', diff_ids: [scan.diffId] },
    history: [{ created, created_by: '', comment: options.message || `Imported from ${options.source ?? '-'}` }],
  };
  const { digest: configDigest } = await store.content.ingestBytes(JSON.stringify(config));
  // The image and its name in one operation: a crash leaves both or neither.
  const [image] = await store.createImages('import', [{ config: configDigest, references: reference ? [reference] : [] }]);
  const result: ImportResult = { id: image!.id, diffIds: [scan.diffId] };
  if (reference) result.reference = reference;
  return result;
}
