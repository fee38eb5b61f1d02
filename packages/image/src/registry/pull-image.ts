import type { ProgressMessage, RegistryAuth } from '@berth/core';
import { InvalidArgument, isBerthError, NotFound, SystemError } from '@berth/core';
import type { Digest } from '../digest.js';
import { parseDigest, shortId } from '../digest.js';
import { checkImageConfig } from '../image-config.js';
import type { ImageStore } from '../image-store.js';
import { type LayerScan, scanLayer } from '../layer-scan.js';
import type { Descriptor, ImageIndex, ImageManifest, Platform } from '../manifest.js';
import { isSchema1MediaType, MediaTypes } from '../media-types.js';
import { familiarString, type Reference, referenceString } from '../reference.js';
import { tee } from '../tee.js';
import { hostPlatform, normalizePlatform, platformString, selectManifest } from './platform.js';
import { layerProgress, layerStatus, ProgressThrottle } from './progress.js';
import { type FetchedManifest, RegistryClient } from './registry-client.js';
import { type RegistryHostsConfig, registryEndpoints } from './registry-hosts.js';
import { runLimited } from './run-limited.js';

/** What `pullImage` needs besides the store. */
export interface PullImageOptions {
  /** What to pull: a tag or a digest (normalised: one of them is set). */
  reference: Reference;
  hosts?: RegistryHostsConfig;
  auth?: RegistryAuth;
  /** The platform to pick from a manifest list (default: the host's). */
  platform?: Platform;
  /** Layers downloaded at once (default 3, daemon.json `max-concurrent-downloads`). */
  maxConcurrentDownloads?: number;
  progress?: (message: ProgressMessage) => void;
  signal?: AbortSignal;
  userAgent?: string;
  /** A client already pinged (a `pull -a` reuses one for every tag). */
  client?: RegistryClient;
}

/** What a pull did. */
export interface PullImageResult {
  /** The image id (its config digest). */
  id: Digest;
  /** The digest of the manifest (or manifest list) the reference named: the repo digest. */
  digest: Digest;
  /** False when the reference already named this image: nothing changed. */
  changed: boolean;
  /** Layers whose blobs were downloaded (the others were in the store already). */
  downloadedLayers: number;
}

/** Blob downloads under way in this process, by content store and digest (see `pullLayer`). */
const inFlight = new Map<string, Promise<unknown>>();

/** The manifest types a pull can read. */
const imageManifestTypes = new Set<string>([MediaTypes.dockerManifest, MediaTypes.ociManifest]);
const indexTypes = new Set<string>([MediaTypes.dockerManifestList, MediaTypes.ociIndex]);

/**
 * `docker pull` of one reference into `store`: the manifest (from a manifest list or
 * OCI index, the platform's), the config blob, and each layer the store does not have
 * (by diffID), `maxConcurrentDownloads` at a time, each checked against its digest as it
 * streams into the content store and then read through to prove its diffID (the
 * "Extracting" step: berth unpacks a layer into a snapshot when a container first needs
 * it). Then the image and its names (the tag, and `name@digest` as its repo digest) in
 * one `createImages`: a crash leaves the image whole with its names, or absent with its
 * blobs garbage for the next `open` (the pull is then simply asked again).
 *
 * Progress lines follow dockerd's: `Pulling from`, per layer `Pulling fs layer`,
 * `Waiting`, `Downloading`, `Verifying Checksum`, `Download complete`, `Extracting`,
 * `Pull complete` (or `Already exists`); the caller prints `Digest:` and `Status:`. An
 * unknown manifest fails before any line, as NotFound in Docker's words.
 */
export async function pullImage(store: ImageStore, options: PullImageOptions): Promise<PullImageResult> {
  const ref = options.reference;
  if (ref.tag === undefined && ref.digest === undefined)
    throw new InvalidArgument(`pull: ${familiarString(ref)} names neither a tag nor a digest`);
  const emit = options.progress ?? (() => {});
  const signal = options.signal;
  let client =
    options.client ??
    new RegistryClient({
      endpoints: registryEndpoints(ref.domain, options.hosts ?? {}, 'pull'),
      auth: options.auth,
      userAgent: options.userAgent,
    });
  if (!options.client) await client.ping(signal);
  const reference = ref.digest ?? ref.tag!;
  let top: FetchedManifest;
  try {
    try {
      top = await client.getManifest(ref.path, reference, signal);
    } catch (err) {
      // A mirror that lacks the image (or fails) is passed over for Docker Hub itself.
      const fallback = client.usingMirror && !signal?.aborted ? client.withoutMirrors() : undefined;
      if (!fallback) throw err;
      client = fallback;
      await client.ping(signal);
      top = await client.getManifest(ref.path, reference, signal);
    }
  } catch (err) {
    if (isBerthError(err, 'NotFound')) throw new NotFound(`manifest for ${familiarString(ref)} not found: ${err.message}`);
    throw err;
  }
  emit({ status: `Pulling from ${ref.path}`, id: reference });
  let manifestBytes = top;
  if (indexTypes.has(top.mediaType)) {
    const index = parseJson<ImageIndex>(top.bytes, `manifest list of ${familiarString(ref)}`);
    const chosen = selectManifest(index.manifests ?? [], options.platform ?? hostPlatform());
    manifestBytes = await client.getManifest(ref.path, chosen.digest, signal);
  }
  if (isSchema1MediaType(manifestBytes.mediaType)) throw schema1Removed(ref);
  if (!imageManifestTypes.has(manifestBytes.mediaType)) {
    throw new InvalidArgument(
      `unsupported manifest type ${JSON.stringify(manifestBytes.mediaType)} for ${familiarString(ref)} (berth reads Docker schema 2 and OCI manifests)`,
    );
  }
  const manifest = parseJson<ImageManifest>(manifestBytes.bytes, `manifest of ${familiarString(ref)}`);
  if (!manifest.config || !Array.isArray(manifest.layers))
    throw new InvalidArgument(`manifest of ${familiarString(ref)} has no config or no layers`);
  const configDigest = parseDigest(manifest.config.digest);
  const before = store.lookupReference(ref);

  return store.adding(async () => {
    if (!(await store.content.has(configDigest))) {
      await store.content.ingest(client.blob(ref.path, configDigest, manifest.config.size, undefined, signal), configDigest);
    }
    const config = checkImageConfig(await store.content.readJson(configDigest), configDigest);
    if (options.platform && !indexTypes.has(top.mediaType)) {
      // A single-platform image checked against the platform asked for, as dockerd does.
      const want = normalizePlatform(options.platform);
      const got = normalizePlatform({ os: config.os, architecture: config.architecture, variant: config.variant });
      if (got.os !== want.os || got.architecture !== want.architecture || (want.variant !== undefined && got.variant !== want.variant)) {
        throw new NotFound(
          `image with reference ${familiarString(ref)} was found but does not match the specified platform: wanted ${platformString(want)}, actual: ${platformString(got)}`,
        );
      }
    }
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw new InvalidArgument(
        `image ${familiarString(ref)}: its manifest has ${manifest.layers.length} layers, its config ${diffIds.length}`,
      );
    }
    const needed: Array<{ layer: Descriptor; diffId: Digest }> = [];
    const seen = new Set<Digest>();
    for (const [i, layer] of manifest.layers.entries()) {
      const diffId = diffIds[i]!;
      const digest = parseDigest(layer.digest);
      const known = store.layers.get(diffId);
      if ((known && (await store.content.has(known.digest))) || seen.has(digest)) {
        if (!seen.has(digest)) emit(layerStatus('Already exists', shortId(digest)));
        continue;
      }
      seen.add(digest);
      needed.push({ layer: { ...layer, digest }, diffId });
    }
    for (const { layer } of needed) emit(layerStatus('Pulling fs layer', shortId(layer.digest)));
    const limit = options.maxConcurrentDownloads ?? 3;
    for (const { layer } of needed.slice(limit)) emit(layerStatus('Waiting', shortId(layer.digest)));
    await runLimited(needed, limit, ({ layer, diffId }) => pullLayer(store, client, ref.path, layer, diffId, emit, signal));

    const references: Reference[] = [{ domain: ref.domain, path: ref.path, digest: top.digest }];
    if (ref.tag !== undefined && ref.digest === undefined) references.unshift({ domain: ref.domain, path: ref.path, tag: ref.tag });
    const [image] = await store.createImages('pull', [{ config: configDigest, references }]);
    return { id: image!.id, digest: top.digest, changed: before !== image!.id, downloadedLayers: needed.length };
  });
}

/** One layer: downloaded into the content store (digest checked), read through for its diffID, registered. */
async function pullLayer(
  store: ImageStore,
  client: RegistryClient,
  repository: string,
  layer: Descriptor,
  diffId: Digest,
  emit: (m: ProgressMessage) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const id = shortId(layer.digest);
  const total = layer.size;
  const download = new ProgressThrottle((n) => emit(layerProgress('Downloading', id, n, total)));
  // Another pull of this process may be fetching the same blob into the same store
  // (`compose pull` of images sharing a base): wait for it rather than download it twice.
  const key = `${store.content.blobDir}\0${layer.digest}`;
  for (let other = inFlight.get(key); other; other = inFlight.get(key)) await other.catch(() => undefined);
  // Registered before its first await, so no other pull slips in between the check and it.
  // The blob is read through for its diffID while it streams into the store (one pass);
  // a blob already there (another pull fetched it) is read from the store instead.
  const fetching = (async (): Promise<LayerScan | undefined> => {
    if (await store.content.has(layer.digest)) return undefined;
    const { branches, abort } = tee(
      client.blob(
        repository,
        layer.digest,
        total,
        (n) => download.update(n),
        signal,
        (delayMs) => {
          // dockerd's line while it waits to ask a failing registry again.
          const seconds = Math.max(1, Math.round(delayMs / 1000));
          emit(layerStatus(`Retrying in ${seconds} second${seconds === 1 ? '' : 's'}`, id));
        },
      ),
      2,
    );
    const ingesting = store.content.ingest(branches[0]!, layer.digest).catch((err: unknown) => {
      abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    });
    const [ingested, scanned] = await Promise.allSettled([ingesting, scanLayer(branches[1]!)]);
    // The digest is judged first: bytes that are not the blob say so, whatever the tar reader made of them.
    if (ingested.status === 'rejected') {
      const err = ingested.reason as unknown;
      if (isBerthError(err, 'InvalidArgument') && /digest mismatch/.test(err.message)) {
        throw new InvalidArgument(`filesystem layer verification failed for digest ${layer.digest}: ${err.message}`);
      }
      throw err;
    }
    if (scanned.status === 'rejected') {
      throw new InvalidArgument(`layer ${layer.digest} is not a readable layer tar: ${(scanned.reason as Error).message}`, {
        cause: scanned.reason,
      });
    }
    return scanned.value;
  })();
  inFlight.set(key, fetching);
  let scan: LayerScan | undefined;
  try {
    scan = await fetching;
  } finally {
    inFlight.delete(key);
  }
  if (scan) download.update(total, true);
  emit(layerStatus('Verifying Checksum', id));
  emit(layerStatus('Download complete', id));
  if (scan) emit(layerProgress('Extracting', id, total, total));
  else scan = await readLayer(store, layer, (n) => emit(layerProgress('Extracting', id, n, total)));
  if (scan.diffId !== diffId) {
    throw new SystemError(`layer ${layer.digest}: its content has the diffID ${scan.diffId}, the image config names ${diffId}`);
  }
  await store.layers.register({ diffId, digest: layer.digest, compression: scan.compression, size: scan.size, tarSize: scan.tarSize });
  emit(layerStatus('Pull complete', id));
}

/** Read a stored layer blob through for its diffID (`scanLayer`), telling `onBytes` how far it got. */
async function readLayer(store: ImageStore, layer: Descriptor, onBytes: (n: number) => void): Promise<LayerScan> {
  const throttle = new ProgressThrottle(onBytes);
  const blob = await store.content.get(layer.digest);
  let read = 0;
  const counted = (async function* () {
    for await (const chunk of blob) {
      read += (chunk as Buffer).length;
      throttle.update(read);
      yield chunk as Buffer;
    }
  })();
  try {
    return await scanLayer(counted);
  } catch (err) {
    throw new InvalidArgument(`layer ${layer.digest} is not a readable layer tar: ${(err as Error).message}`, { cause: err });
  } finally {
    blob.destroy();
    throttle.update(read, true);
  }
}

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (err) {
    throw new InvalidArgument(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Docker 28's refusal of a schema 1 image, word for word (an invalid-parameter error, so
 * a 400 through the API): scripts and people search for this text.
 */
function schema1Removed(ref: Reference): InvalidArgument {
  return new InvalidArgument(
    'Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. ' +
      `Suggest the author of ${referenceString(ref)} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. ` +
      'More information at https://docs.docker.com/go/deprecated-image-specs/',
  );
}
