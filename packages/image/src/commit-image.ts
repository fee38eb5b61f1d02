import { SystemError } from '@berth/core';
import { asyncBytes, type ByteSource } from './byte-source.js';
import { applyChanges } from './changes.js';
import type { BlobInfo } from './content-store.js';
import type { Digest } from './digest.js';
import { type ContainerConfig, goArch, type ImageConfig } from './image-config.js';
import type { ImageRecord, ImageStore } from './image-store.js';
import { type ImportResult, targetReference } from './import-rootfs.js';
import { type LayerScan, scanLayer } from './layer-scan.js';
import type { Reference } from './reference.js';
import { consumeTee } from './tee.js';

/** What `commitImage` makes an image from (the query of `POST /commit`, resolved by the engine). */
export interface CommitImageOptions {
  /**
   * The image the container runs: the new image's layers are its layers plus one.
   * Absent for a build's first layer on `scratch`: the layer is then the only one.
   */
  parent?: Digest;
  /** The new layer: an uncompressed layer tar (deletions as `.wh.` entries). */
  layer: ByteSource;
  /** The container's config, before `changes`. */
  config: ContainerConfig;
  /** Dockerfile instructions applied to the config (`docker commit -c`, see `applyChanges`). */
  changes?: string[];
  comment?: string;
  author?: string;
  repo?: string;
  tag?: string;
  /** Recorded as the config's `container`. */
  containerId?: string;
  /** Creation time (default: now). */
  created?: Date;
  /** The history line (default: the container's command, as `docker commit` writes it). */
  createdBy?: string;
}

/**
 * `docker commit`: an image made of `parent`'s layers and one new layer, with the
 * container's config. The layer is stored uncompressed and hashed as it is stored, as
 * an import's; name and changes are checked before the layer is read, so a bad request
 * stores nothing. History gains one entry (created_by: the container's command).
 */
export async function commitImage(store: ImageStore, options: CommitImageOptions): Promise<ImportResult> {
  const reference = targetReference('commit', options.repo, options.tag);
  const containerConfig = applyChanges(options.config, options.changes ?? []);
  const parent = options.parent === undefined ? undefined : await store.get(options.parent);
  // Its blob and layer record are no image's until the end: no removal may run meanwhile.
  return store.adding(() => commitLayer(store, options, parent, reference, containerConfig));
}

async function commitLayer(
  store: ImageStore,
  options: CommitImageOptions,
  parent: ImageRecord | undefined,
  reference: Reference | undefined,
  containerConfig: ContainerConfig,
): Promise<ImportResult> {
  // The stored blob is the uncompressed tar: its digest is the diffID, hashed once (by ingest).
  let stored: Promise<BlobInfo> | undefined;
  const [blob, scan] = await consumeTee<[BlobInfo, LayerScan]>(asyncBytes(options.layer), [
    (s) => (stored = store.content.ingest(s)),
    (s) => scanLayer(s, { plainDigest: async () => (await stored!).digest }),
  ]);
  if (blob.digest !== scan.diffId) throw new SystemError(`commit: stored layer ${blob.digest} does not match its diffID ${scan.diffId}`);
  await store.layers.register({ diffId: scan.diffId, digest: blob.digest, compression: 'none', size: scan.size, tarSize: scan.tarSize });

  const created = (options.created ?? new Date()).toISOString();
  const createdBy = options.createdBy ?? [...(options.config.Entrypoint ?? []), ...(options.config.Cmd ?? [])].join(' ');
  const history = { created, created_by: createdBy } as {
    created: string;
    created_by: string;
    author?: string;
    comment?: string;
  };
  if (options.author) history.author = options.author;
  if (options.comment) history.comment = options.comment;
  const base = parent?.config ?? scratchConfig();
  const config: ImageConfig = {
    ...base,
    created,
    config: containerConfig,
    rootfs: { type: 'layers', diff_ids: [...(parent?.diffIds ?? []), scan.diffId] },
    history: [...(base.history ?? []), history],
  };
  if (options.author) config.author = options.author;
  else delete config.author;
  if (options.containerId) config.container = options.containerId;
  const { digest: configDigest } = await store.content.ingestBytes(JSON.stringify(config));
  // The image and its name in one operation: a crash leaves both or neither.
  const [image] = await store.createImages('commit', [
    { config: configDigest, ...(parent ? { parent: parent.id } : {}), references: reference ? [reference] : [] },
  ]);
  const result: ImportResult = { id: image!.id, diffIds: config.rootfs.diff_ids };
  if (reference) result.reference = reference;
  return result;
}

/** The config of an image with nothing in it yet (`FROM scratch`): this host's platform, no layers. */
export function scratchConfig(): ImageConfig {
  return { architecture: goArch(), os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, history: [] };
}
