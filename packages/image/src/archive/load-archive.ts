import * as path from 'node:path';
import { InvalidArgument, isBerthError } from '@berth/core';
import { asyncBytes, type ByteSource } from '../byte-source.js';
import { decompress } from '../compression.js';
import type { BlobInfo } from '../content-store.js';
import { type Digest, isDigest, sha256Digest } from '../digest.js';
import { checkImageConfig, goArch, type ImageConfig } from '../image-config.js';
import type { ImageStore } from '../image-store.js';
import { type LayerScan, scanLayer } from '../layer-scan.js';
import {
  type ArchiveManifestEntry,
  containerdImageNameAnnotation,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  ociRefNameAnnotation,
} from '../manifest.js';
import { MediaTypes } from '../media-types.js';
import { familiarString, normalizeReference, type Reference } from '../reference.js';
import { readTar } from '../tar/reader.js';
import { consumeTee } from '../tee.js';

/** What `loadArchive` loaded. */
export interface LoadResult {
  images: Array<{ id: Digest; repoTags: string[] }>;
}

/** A layer file of the archive, stored and scanned. */
interface StoredFile {
  blob: BlobInfo;
  scan?: LayerScan;
  /** Why the file is not a readable layer tar (only matters if an image uses it). */
  scanError?: unknown;
}

/** An image found in the archive, fully checked, not stored yet. */
interface PendingImage {
  configBytes: Buffer;
  configDigest: Digest;
  layers: Array<StoredFile & { scan: LayerScan }>;
  tags: Reference[];
}

/** Metadata files are held in memory; one larger than this is refused. */
const maxMetadataSize = 16 << 20;
/** Small blobs of an OCI layout are held in memory too (they are mostly manifests and configs)... */
const maxSmallBlobSize = 1 << 20;
/** ...up to this much in all; beyond, they are stored as they come. */
const maxSmallBlobsTotal = 64 << 20;

/**
 * `docker load`: read an image archive (plain or compressed) as it streams and add
 * its images to the store. Accepted layouts:
 *
 * - the legacy `docker save` layout: `manifest.json` (`Config`, `RepoTags`, `Layers`),
 *   `<hex>.json` configs, `<v1id>/layer.tar` (a layer may be a symlink to another's),
 *   `repositories` (names used when `RepoTags` is empty);
 * - an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) as podman,
 *   skopeo and Docker 25+ write it; names come from `io.containerd.image.name` or a
 *   full `org.opencontainers.image.ref.name`. With both, `manifest.json` wins.
 *
 * Layer files are stored in the content store while the archive streams (a layer's
 * digest and diffID are computed on the way; gzip'd layers are kept as they are,
 * their diffID computed from the uncompressed bytes). Nothing is named until the whole
 * archive has been read and every image checked: configs parse, each config's
 * `rootfs.diff_ids` equal the layers' diffIDs, every name is valid. A bad archive is an
 * InvalidArgument (`invalid tar archive: manifest.json not found`) and creates no
 * image; blobs it stored stay unreferenced. The images and all their names are then made
 * in one `createImages` operation, so a crash leaves the whole load or none of it.
 */
export function loadArchive(store: ImageStore, source: ByteSource): Promise<LoadResult> {
  // Its blobs and layer records are no image's until the end: no removal may run meanwhile.
  return store.adding(() => load(store, source));
}

async function load(store: ImageStore, source: ByteSource): Promise<LoadResult> {
  const files = new Map<string, Buffer>();
  const stored = new Map<string, StoredFile>();
  const links = new Map<string, string>();
  let smallTotal = 0;

  const { stream } = await decompress(source);
  try {
    for await (const entry of readTar(stream)) {
      const name = archivePath(entry.path);
      if (name === '') continue;
      if (entry.type === 'symlink') {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(name), entry.linkpath!));
        if (!target.startsWith('../') && !entry.linkpath!.startsWith('/')) links.set(name, target);
        continue;
      }
      if (entry.type === 'hardlink') {
        links.set(name, archivePath(entry.linkpath!));
        continue;
      }
      if (entry.type !== 'file') continue;
      if (isMetadataPath(name)) {
        if (entry.size > maxMetadataSize) throw invalid(`${name} is too large (${entry.size} bytes)`);
        files.set(name, await collect(entry.body));
      } else if (name.startsWith('blobs/') && entry.size <= maxSmallBlobSize && smallTotal + entry.size <= maxSmallBlobsTotal) {
        smallTotal += entry.size;
        files.set(name, await collect(entry.body));
      } else {
        stored.set(name, await storeFile(store, entry.body));
      }
    }
  } catch (err) {
    if (isBerthError(err, 'InvalidArgument') && !err.message.startsWith('invalid tar archive')) {
      throw new InvalidArgument(`invalid tar archive: ${err.message.replace(/^invalid tar: /, '')}`, { cause: err });
    }
    throw err;
  }

  const archive = new ArchiveContents(store, files, stored, links);
  let pending: PendingImage[];
  if (archive.has('manifest.json')) pending = await legacyImages(archive);
  else if (archive.has('index.json')) pending = await ociImages(archive);
  else throw invalid('manifest.json not found');
  if (pending.length === 0) throw invalid('the archive holds no image');

  // Everything checked: store the configs and register the layers (garbage until an image
  // uses them), then make and name every image in one operation a crash leaves whole or absent.
  for (const image of pending) {
    await store.content.ingestBytes(image.configBytes, image.configDigest);
    for (const layer of image.layers) {
      await store.layers.register({
        diffId: layer.scan.diffId,
        digest: layer.blob.digest,
        compression: layer.scan.compression,
        size: layer.scan.size,
        tarSize: layer.scan.tarSize,
      });
    }
  }
  await store.createImages(
    'load',
    pending.map((image) => ({ config: image.configDigest, references: image.tags })),
  );
  const images: LoadResult['images'] = [];
  for (const image of pending) {
    const repoTags = image.tags.map(familiarString);
    const seen = images.find((i) => i.id === image.configDigest);
    if (seen) seen.repoTags.push(...repoTags.filter((t) => !seen.repoTags.includes(t)));
    else images.push({ id: image.configDigest, repoTags });
  }
  return { images };
}

/** The files of an archive after it has been read: small ones in memory, the rest stored. */
class ArchiveContents {
  constructor(
    private readonly store: ImageStore,
    private readonly files: Map<string, Buffer>,
    private readonly stored: Map<string, StoredFile>,
    private readonly links: Map<string, string>,
  ) {}

  has(name: string): boolean {
    const real = this.follow(name);
    return this.files.has(real) || this.stored.has(real);
  }

  /** The bytes of a (small) file; InvalidArgument naming `what` when absent. */
  async bytes(name: string, what: string): Promise<Buffer> {
    const real = this.follow(name);
    const inMemory = this.files.get(real);
    if (inMemory) return inMemory;
    const stored = this.stored.get(real);
    if (stored) return this.store.content.readBytes(stored.blob.digest);
    throw invalid(`${what} ${name} not found`);
  }

  async json<T>(name: string, what: string): Promise<T> {
    const data = await this.bytes(name, what);
    try {
      return JSON.parse(data.toString('utf8')) as T;
    } catch (err) {
      throw invalid(`${name} is not valid JSON: ${(err as Error).message}`);
    }
  }

  /** A layer file, stored and scanned (small ones are stored now). */
  async layer(name: string): Promise<StoredFile & { scan: LayerScan }> {
    const real = this.follow(name);
    let file = this.stored.get(real);
    if (!file) {
      const data = this.files.get(real);
      if (!data) throw invalid(`layer ${name} not found`);
      file = await storeFile(this.store, [data]);
      this.stored.set(real, file);
    }
    if (!file.scan) {
      const why = file.scanError instanceof Error ? file.scanError.message : String(file.scanError);
      throw invalid(`layer ${name} is not a tar archive: ${why.replace(/^invalid tar: /, '')}`);
    }
    return file as StoredFile & { scan: LayerScan };
  }

  private follow(name: string): string {
    let current = archivePath(name);
    for (let hops = 0; hops < 16; hops++) {
      const next = this.links.get(current);
      if (next === undefined) return current;
      current = next;
    }
    throw invalid(`too many links at ${name}`);
  }
}

async function legacyImages(archive: ArchiveContents): Promise<PendingImage[]> {
  const manifest = await archive.json<unknown>('manifest.json', 'file');
  if (!Array.isArray(manifest)) throw invalid('manifest.json is not a list of images');
  let repositories: Record<string, Record<string, string>> | undefined;
  if (archive.has('repositories')) repositories = await archive.json('repositories', 'file');
  const out: PendingImage[] = [];
  for (const [i, raw] of manifest.entries()) {
    const entry = raw as Partial<ArchiveManifestEntry>;
    if (typeof entry?.Config !== 'string') throw invalid(`manifest.json entry ${i} has no Config`);
    if (!Array.isArray(entry.Layers) || !entry.Layers.every((l) => typeof l === 'string')) {
      throw invalid(`manifest.json entry ${i} has no Layers list`);
    }
    const configBytes = await archive.bytes(entry.Config, 'config');
    const config = parseConfig(configBytes, entry.Config);
    const layers = [];
    for (const layerPath of entry.Layers) layers.push(await archive.layer(layerPath));
    checkDiffIds(config, layers, entry.Config, entry.Layers);
    checkBaseLayer(layers, entry.Layers);
    let names = entry.RepoTags ?? [];
    if (names.length === 0 && repositories && entry.Layers.length > 0) {
      // Old archives name images only in `repositories`: repo → tag → top layer's v1 id.
      const topV1 = path.posix.dirname(archivePath(entry.Layers[entry.Layers.length - 1]!));
      names = Object.entries(repositories).flatMap(([repo, tags]) =>
        Object.entries(tags ?? {})
          .filter(([, v1]) => v1 === topV1)
          .map(([tag]) => `${repo}:${tag}`),
      );
    }
    out.push({ configBytes, configDigest: sha256Digest(configBytes), layers, tags: names.map((n) => parseTag(n, entry.Config!)) });
  }
  return out;
}

async function ociImages(archive: ArchiveContents): Promise<PendingImage[]> {
  if (archive.has('oci-layout')) {
    const layout = await archive.json<{ imageLayoutVersion?: unknown }>('oci-layout', 'file');
    if (typeof layout.imageLayoutVersion !== 'string') throw invalid('oci-layout has no imageLayoutVersion');
  }
  const index = await archive.json<ImageIndex>('index.json', 'file');
  if (!Array.isArray(index.manifests)) throw invalid('index.json has no manifests');
  const out: PendingImage[] = [];
  for (const descriptor of index.manifests) {
    const name = imageName(descriptor);
    for (const manifest of await manifestsOf(archive, descriptor, 0)) {
      const configBytes = await blob(archive, manifest.config, 'config');
      const config = parseConfig(configBytes, manifest.config.digest);
      const layers = [];
      for (const d of manifest.layers) {
        const layer = await archive.layer(blobPath(d));
        if (layer.blob.digest !== d.digest)
          throw invalid(`blob ${blobPath(d)} does not match its digest (it hashes to ${layer.blob.digest})`);
        layers.push(layer);
      }
      checkDiffIds(config, layers, manifest.config.digest, manifest.layers.map(blobPath));
      checkBaseLayer(layers, manifest.layers.map(blobPath));
      out.push({ configBytes, configDigest: manifest.config.digest, layers, tags: name ? [parseTag(name, 'index.json')] : [] });
    }
  }
  return out;
}

// An index entry may be a manifest or (podman, Docker 25+) a nested index: take this
// platform's manifest from it.
async function manifestsOf(archive: ArchiveContents, descriptor: Descriptor, depth: number): Promise<ImageManifest[]> {
  if (depth > 4) throw invalid('image indexes nest too deeply');
  const value = JSON.parse((await blob(archive, descriptor, 'manifest')).toString('utf8')) as Partial<ImageManifest & ImageIndex>;
  const mediaType = value.mediaType ?? descriptor.mediaType;
  if (Array.isArray(value.manifests) || mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerManifestList) {
    const manifests = value.manifests ?? [];
    const candidates = manifests.filter((m) => m.platform?.architecture !== 'unknown');
    const mine = candidates.filter((m) => !m.platform || (m.platform.os === 'linux' && m.platform.architecture === goArch()));
    const chosen = candidates.length <= 1 ? candidates : mine.slice(0, 1);
    if (chosen.length === 0) throw invalid(`no image for linux/${goArch()} in index ${descriptor.digest}`);
    const out: ImageManifest[] = [];
    for (const m of chosen) out.push(...(await manifestsOf(archive, m, depth + 1)));
    return out;
  }
  if (typeof value.config !== 'object' || value.config === null || !Array.isArray(value.layers)) {
    throw invalid(`manifest ${descriptor.digest} has no config or layers`);
  }
  for (const d of [value.config, ...value.layers]) {
    if (!isDigest(d?.digest)) throw invalid(`manifest ${descriptor.digest} names an invalid digest ${JSON.stringify(d?.digest)}`);
  }
  return [value as ImageManifest];
}

async function blob(archive: ArchiveContents, descriptor: Descriptor, what: string): Promise<Buffer> {
  if (!isDigest(descriptor?.digest)) throw invalid(`${what} descriptor has an invalid digest ${JSON.stringify(descriptor?.digest)}`);
  const data = await archive.bytes(blobPath(descriptor), what);
  const actual = sha256Digest(data);
  if (actual !== descriptor.digest) throw invalid(`${what} ${blobPath(descriptor)} does not match its digest (it hashes to ${actual})`);
  return data;
}

function blobPath(descriptor: Descriptor): string {
  return `blobs/sha256/${descriptor.digest.slice('sha256:'.length)}`;
}

function imageName(descriptor: Descriptor): string | undefined {
  const annotations = descriptor.annotations ?? {};
  const full = annotations[containerdImageNameAnnotation];
  if (full) return full;
  const ref = annotations[ociRefNameAnnotation];
  // A bare ref.name is only a tag ("latest"); it names nothing without a repository.
  return ref && /[:/]/.test(ref) ? ref : undefined;
}

function parseConfig(bytes: Buffer, where: string): ImageConfig {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalid(`config ${where} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return checkImageConfig(value, where);
  } catch (err) {
    throw invalid((err as Error).message);
  }
}

function checkDiffIds(config: ImageConfig, layers: Array<{ scan: LayerScan }>, where: string, paths: string[]): void {
  const expected = config.rootfs.diff_ids;
  if (expected.length !== layers.length) {
    throw invalid(`image ${where} has ${layers.length} layers but its config lists ${expected.length} diff_ids`);
  }
  layers.forEach((layer, i) => {
    if (layer.scan.diffId !== expected[i]) {
      throw invalid(`layer ${i} of image ${where} (${paths[i]}) has diffID ${layer.scan.diffId}, but the config expects ${expected[i]}`);
    }
  });
}

function parseTag(name: string, where: string): Reference {
  try {
    const ref = normalizeReference(name);
    if (ref.tag === undefined) throw new InvalidArgument(`${name} has no tag`);
    return ref;
  } catch (err) {
    throw invalid(`invalid image name ${JSON.stringify(name)} for ${where}: ${(err as Error).message}`);
  }
}

/** Store a file of the archive as a blob, scanning it as a layer on the way. */
/**
 * An image whose bottom layer could never be unpacked (a name with `..`, a write through
 * a symlink out of the root, a hardlink to nothing...) is refused at load, as `import`
 * refuses one, rather than at its first run. Layers higher up are left to the unpacker:
 * what they may do depends on the layers below them.
 */
function checkBaseLayer(layers: Array<{ scan: LayerScan }>, paths: string[]): void {
  const refused = layers[0]?.scan.refusedAsBase;
  if (refused) throw invalid(`layer ${paths[0]} can never be unpacked: ${refused.message}`);
}

async function storeFile(store: ImageStore, body: ByteSource): Promise<StoredFile> {
  // An uncompressed layer's diffID is the stored blob's digest: hashed once (by ingest).
  let stored: Promise<BlobInfo> | undefined;
  const [blob, scanned] = await consumeTee<[BlobInfo, { scan?: LayerScan; scanError?: unknown }]>(asyncBytes(body), [
    (s) => (stored = store.content.ingest(s)),
    async (s) => {
      try {
        // Checked as a base layer on the way; it counts only where an image has it at the bottom.
        return { scan: await scanLayer(s, { check: true, recordRefusal: true, plainDigest: async () => (await stored!).digest }) };
      } catch (scanError) {
        if (!isBerthError(scanError)) throw scanError;
        // Not a tar: the blob is still stored (the other branch reads on); it matters
        // only if an image uses it as a layer.
        try {
          for await (const _ of s) void _;
        } catch {
          // The branch was closed by the failed scan; nothing more to read from it.
        }
        return { scanError };
      }
    },
  ]);
  return { blob, ...scanned };
}

async function collect(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** Names inside the archive, normalised: no `./`, no leading or trailing `/`. */
function archivePath(name: string): string {
  return path.posix.normalize(`/${name}`).slice(1).replace(/\/+$/, '');
}

// Small files read whole: the layouts' own files, configs and v1 json. Anything else
// (layer.tar, `<hex>.tar.gz` of other writers, big blobs) is stored as it streams.
function isMetadataPath(name: string): boolean {
  return (
    ['manifest.json', 'repositories', 'index.json', 'oci-layout'].includes(name) ||
    /^[^/]+\.json$/.test(name) ||
    /^[^/]+\/(json|VERSION)$/.test(name)
  );
}

function invalid(problem: string): InvalidArgument {
  return new InvalidArgument(problem.startsWith('invalid tar archive') ? problem : `invalid tar archive: ${problem}`);
}
