import type { ProgressMessage, RegistryAuth } from '@berth/core';
import { InvalidArgument, NotFound, SystemError } from '@berth/core';
import type { Digest } from '../digest.js';
import { shortId } from '../digest.js';
import type { ImageRecord, ImageStore } from '../image-store.js';
import type { LayerRecord } from '../layer-store.js';
import type { Descriptor, ImageManifest } from '../manifest.js';
import { MediaTypes } from '../media-types.js';
import { familiarName, familiarString, type Reference, referenceName, referenceString } from '../reference.js';
import { gzipLayerStream } from './layer-gzip.js';
import { layerProgress, layerStatus, ProgressThrottle } from './progress.js';
import { RegistryClient } from './registry-client.js';
import { type RegistryHostsConfig, registryEndpoints } from './registry-hosts.js';
import { runLimited } from './run-limited.js';

/** What `pushImage` needs besides the store. */
export interface PushImageOptions {
  /** The image's name in the registry, with its tag (a digest reference cannot be pushed). */
  reference: Reference;
  hosts?: RegistryHostsConfig;
  auth?: RegistryAuth;
  /** Layers uploaded at once (default 5, daemon.json `max-concurrent-uploads`). */
  maxConcurrentUploads?: number;
  /** Upload blobs larger than this in PATCH chunks of this size; 0 (default) sends each in one PUT. */
  chunkSize?: number;
  progress?: (message: ProgressMessage) => void;
  signal?: AbortSignal;
  userAgent?: string;
}

/** What a push did. */
export interface PushImageResult {
  tag: string;
  /** The digest of the manifest the registry now names the tag by. */
  digest: Digest;
  /** Bytes of that manifest. */
  size: number;
  /** Blobs sent (layers and config); those the registry had or mounted are not counted. */
  uploaded: number;
}

/** A layer as pushed: the blob sent and its media type. */
interface PushLayer {
  record: LayerRecord;
  digest: Digest;
  size: number;
  mediaType: string;
  /** Stored uncompressed: sent as the gzip of the stored blob. */
  gzip: boolean;
}

/**
 * `docker push` of one tag: every layer the registry lacks is sent (`HEAD` first, so
 * nothing present is sent twice; mounted from another repository of the same registry
 * that this image was pulled from or pushed to, when there is one), `maxConcurrentUploads`
 * at a time, then the config, then the manifest under the tag. Layers stored
 * uncompressed are sent gzip-compressed, as Docker sends them. The manifest is Docker's
 * schema 2, or OCI's when a layer is zstd. Afterwards the image records the manifest's
 * digest as a repo digest (`ImageStore.tag`, one atomic write). Progress follows
 * dockerd's (`Preparing`, `Waiting`, `Pushing`, `Pushed`, `Layer already exists`,
 * `Mounted from`); the caller prints the final `<tag>: digest: … size: …`.
 *
 * Interrupted, a push leaves complete blobs in the registry and nothing in the store;
 * run again, it sends only what the registry still lacks.
 */
export async function pushImage(store: ImageStore, options: PushImageOptions): Promise<PushImageResult> {
  const ref = options.reference;
  if (ref.tag === undefined || ref.digest !== undefined) {
    throw new InvalidArgument(`push: ${familiarString(ref)} must name a tag, and no digest`);
  }
  const tag = ref.tag;
  const emit = options.progress ?? (() => {});
  const signal = options.signal;
  const image = await findLocal(store, ref);
  emit({ status: `The push refers to repository [${referenceName(ref)}]` });
  const client = new RegistryClient({
    endpoints: registryEndpoints(ref.domain, options.hosts ?? {}, 'push'),
    auth: options.auth,
    userAgent: options.userAgent,
  });
  await client.ping(signal);
  const mountSources = store
    .references(image.id)
    .filter((r) => r.domain === ref.domain && r.path !== ref.path)
    .map((r) => r.path);

  // One entry per distinct layer, top first as dockerd lists them.
  const records: LayerRecord[] = [];
  for (const record of [...image.layers].reverse()) if (!records.some((r) => r.diffId === record.diffId)) records.push(record);
  for (const record of records) emit(layerStatus('Preparing', shortId(record.diffId)));
  const limit = options.maxConcurrentUploads ?? 5;
  for (const record of records.slice(limit)) emit(layerStatus('Waiting', shortId(record.diffId)));
  let uploaded = 0;
  const layers = await runLimited(records, limit, async (record) => {
    const id = shortId(record.diffId);
    const layer = await describeLayer(store, record);
    if (!layer) {
      // Stored uncompressed and never pushed (no gzip recorded): its digest is unknown
      // until it is compressed, so there is nothing to ask the registry first (dockerd
      // does the same for a layer it has no digest of). Compressed while it uploads.
      const location = await client.startUpload(ref.path, signal);
      const throttle = new ProgressThrottle((n) => emit(layerProgress('Pushing', id, n, record.tarSize)));
      const gzip = gzipLayerStream(store.content, record.digest, { signal, onRead: (n) => throttle.update(n) });
      await client.uploadStream(ref.path, location, gzip.chunks, () => gzip.result().digest, {
        chunkSize: options.chunkSize,
        signal,
      });
      throttle.update(record.tarSize, true);
      uploaded++;
      emit(layerStatus('Pushed', id));
      const { digest, size } = gzip.result();
      await store.layers.rememberGzip(record.diffId, { digest, size });
      return { record, digest, size, mediaType: MediaTypes.dockerLayerGzip, gzip: true };
    }
    if (await client.hasBlob(ref.path, layer.digest, signal)) {
      emit(layerStatus('Layer already exists', id));
      return layer;
    }
    let location: string | undefined;
    for (const from of mountSources) {
      const mount = await client.mountBlob(ref.path, layer.digest, from, signal);
      if (mount.mounted) {
        emit(layerStatus(`Mounted from ${from}`, id));
        return layer;
      }
      location = mount.location;
      break;
    }
    location ??= await client.startUpload(ref.path, signal);
    // Progress over the bytes read from the store, as dockerd's: the tar's when compressed on the way.
    const total = layer.gzip ? record.tarSize : layer.size;
    const throttle = new ProgressThrottle((n) => emit(layerProgress('Pushing', id, n, total)));
    if (layer.gzip) {
      // Compressed before (its digest is remembered), but the registry lacks it: compress
      // again on the way out, and check the bytes are the same.
      const gzip = gzipLayerStream(store.content, record.digest, { signal, onRead: (n) => throttle.update(n) });
      await client.uploadStream(ref.path, location, gzip.chunks, () => gzip.result().digest, {
        chunkSize: options.chunkSize,
        signal,
      });
      if (gzip.result().digest !== layer.digest) {
        throw new SystemError(
          `gzip of layer ${record.digest} gave ${gzip.result().digest}, earlier ${layer.digest}: compression is not reproducible here`,
        );
      }
    } else {
      await client.upload(ref.path, location, layer.digest, layer.size, await store.content.get(layer.digest), {
        chunkSize: options.chunkSize,
        onBytes: (n) => throttle.update(n),
        signal,
      });
    }
    throttle.update(total, true);
    uploaded++;
    emit(layerStatus('Pushed', id));
    return layer;
  });

  const configSize = await store.content.size(image.id);
  if (!(await client.hasBlob(ref.path, image.id, signal))) {
    const location = await client.startUpload(ref.path, signal);
    await client.upload(ref.path, location, image.id, configSize, await store.content.get(image.id), { signal });
    uploaded++;
  }
  const oci = layers.some((l) => l.mediaType === MediaTypes.ociLayerZstd);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: oci ? MediaTypes.ociManifest : MediaTypes.dockerManifest,
    config: { mediaType: oci ? MediaTypes.ociConfig : MediaTypes.dockerConfig, size: configSize, digest: image.id },
    layers: image.layers.map((record): Descriptor => {
      const layer = layers.find((l) => l.record.diffId === record.diffId)!;
      return { mediaType: oci ? ociType(layer.mediaType) : layer.mediaType, size: layer.size, digest: layer.digest };
    }),
  };
  // Indented as dockerd writes it; the digest is over these exact bytes.
  const bytes = Buffer.from(JSON.stringify(manifest, null, 3));
  const digest = await client.putManifest(ref.path, tag, manifest.mediaType!, bytes, signal);
  await store.tag(image.id, { domain: ref.domain, path: ref.path, digest });
  return { tag, digest, size: bytes.length, uploaded };
}

/** The local image `ref` names; NotFound in Docker's words. */
async function findLocal(store: ImageStore, ref: Reference): Promise<ImageRecord> {
  const image = await store.find(referenceString(ref));
  if (!image) throw new NotFound(`An image does not exist locally with the tag: ${familiarName(ref)}`);
  return image;
}

/**
 * What the registry gets for a layer: its stored blob when compressed, else its gzip,
 * whose digest an earlier push recorded (`LayerRecord.pushedGzip`); undefined for an
 * uncompressed layer never pushed (its digest is known once it is sent).
 */
async function describeLayer(store: ImageStore, record: LayerRecord): Promise<PushLayer | undefined> {
  if (record.compression === 'none') {
    const known = record.pushedGzip;
    if (known) return { record, digest: known.digest, size: known.size, mediaType: MediaTypes.dockerLayerGzip, gzip: true };
    return undefined;
  }
  const size = await store.content.size(record.digest);
  const mediaType = record.compression === 'zstd' ? MediaTypes.ociLayerZstd : MediaTypes.dockerLayerGzip;
  return { record, digest: record.digest, size, mediaType, gzip: false };
}

function ociType(mediaType: string): string {
  return mediaType === MediaTypes.dockerLayerGzip ? MediaTypes.ociLayerGzip : mediaType;
}
