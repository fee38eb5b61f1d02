import type { Readable } from 'node:stream';
import { NotFound } from '@berth/core';
import { decompress } from '../compression.js';
import { type Digest, digestHex, sha256Digest } from '../digest.js';
import type { ImageRecord, ImageStore } from '../image-store.js';
import {
  type ArchiveManifestEntry,
  containerdImageNameAnnotation,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  ociRefNameAnnotation,
} from '../manifest.js';
import { MediaTypes } from '../media-types.js';
import {
  familiarName,
  familiarString,
  isNameOnly,
  normalizeReference,
  parseReference,
  type Reference,
  referenceName,
  referenceString,
} from '../reference.js';
import { type TarWriteEntry, writeTar } from '../tar/writer.js';

/** Options of `saveArchive`. */
export interface SaveArchiveOptions {
  /**
   * `docker` (default): the legacy layout (see `saveArchive`), as dockerd 20.10 (API 1.41) writes it.
   * `oci`: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) that is a
   * docker-archive too (a `manifest.json` pointing into `blobs/`), as Docker 25+ writes
   * it; skopeo's `oci-archive:` and every `docker load` read it.
   */
  format?: 'docker' | 'oci';
}

/**
 * `docker save`: a tar stream of images in the legacy layout Docker writes and every
 * loader reads (`docker load`, podman, skopeo, berth's `loadArchive`):
 *
 * ```
 * <v1id>/VERSION      "1.0"
 * <v1id>/json         v1 compatibility config (id, parent; the top layer carries the config)
 * <v1id>/layer.tar    the layer, uncompressed; a layer already written is a symlink to it
 * <confighex>.json    the image config, byte for byte (its digest is the image id)
 * manifest.json       [{"Config", "RepoTags", "Layers"}]
 * repositories        {"<name>": {"<tag>": "<top v1id>"}}
 * ```
 *
 * Names follow Docker: an id or id prefix saves the image without tags, `name:tag`
 * that tag, and a bare repository name every tag of that repository. Every name is
 * resolved and every blob checked before the stream is returned, so a NotFound is an
 * error response, not a broken stream. The output is deterministic: saving the same
 * images gives the same bytes.
 */
export async function saveArchive(store: ImageStore, names: readonly string[], options: SaveArchiveOptions = {}): Promise<Readable> {
  const selected = new Map<Digest, { image: ImageRecord; tags: Reference[] }>();
  const add = async (id: Digest, tag?: Reference) => {
    let item = selected.get(id);
    if (!item) {
      item = { image: await store.get(id), tags: [] };
      selected.set(id, item);
    }
    if (tag && !item.tags.some((t) => familiarString(t) === familiarString(tag))) item.tags.push(tag);
  };
  for (const name of names) {
    let ref: Reference | undefined;
    try {
      ref = parseReference(name);
    } catch {
      ref = undefined;
    }
    if (ref && isNameOnly(ref)) {
      const tagged = store.repository(referenceName(ref)).filter((r) => r.reference.tag !== undefined);
      if (tagged.length > 0) {
        for (const { reference, id } of tagged) await add(id, reference);
        continue;
      }
    }
    const id = store.resolve(name);
    // A name saves its tag; an id (or an id prefix that also parses as a name) saves none.
    const named = ref && normalizeReference(ref);
    await add(id, named?.tag !== undefined && store.lookupReference(named) === id ? named : undefined);
  }
  if (selected.size === 0) throw new NotFound('no images to save');

  for (const { image } of selected.values()) {
    for (const layer of image.layers) {
      if (!(await store.content.has(layer.digest)))
        throw new NotFound(`image ${image.id}: no such blob: ${layer.digest} (layer ${layer.diffId})`);
    }
  }

  if (options.format === 'oci') return writeTar(await ociLayoutEntries(store, [...selected.values()]));

  const manifest: ArchiveManifestEntry[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const layerDirs = new Map<string, TarWriteEntry[]>();
  const configs: TarWriteEntry[] = [];
  const writtenLayers = new Map<Digest, string>();

  for (const { image, tags } of selected.values()) {
    const mtime = createdDate(image);
    const configBytes = await store.content.readBytes(image.id);
    const layerPaths: string[] = [];
    let parent: string | undefined;
    image.layers.forEach((layer, i) => {
      const top = i === image.layers.length - 1;
      // Deterministic v1 ids: from the chain below and, for the top, the image itself.
      const v1 = digestHex(sha256Digest(`${image.chainIds[i]} ${parent ?? ''} ${top ? image.id : ''}`));
      layerPaths.push(`${v1}/layer.tar`);
      if (!layerDirs.has(v1)) {
        const first = writtenLayers.get(layer.diffId);
        const entries: TarWriteEntry[] = [
          { path: `${v1}/`, type: 'directory', mtime },
          { path: `${v1}/VERSION`, type: 'file', body: '1.0', mtime },
          { path: `${v1}/json`, type: 'file', body: JSON.stringify(v1Json(image, v1, parent, top)), mtime },
        ];
        if (first !== undefined) {
          entries.push({ path: `${v1}/layer.tar`, type: 'symlink', linkpath: `../${first}/layer.tar`, mtime });
        } else {
          writtenLayers.set(layer.diffId, v1);
          entries.push({
            path: `${v1}/layer.tar`,
            type: 'file',
            size: layer.tarSize,
            mtime,
            body: async () => {
              const blob = await store.content.get(layer.digest);
              return layer.compression === 'none' ? blob : (await decompress(blob)).stream;
            },
          });
        }
        layerDirs.set(v1, entries);
      }
      parent = v1;
    });
    configs.push({ path: `${digestHex(image.id)}.json`, type: 'file', body: configBytes, mtime });
    manifest.push({
      Config: `${digestHex(image.id)}.json`,
      RepoTags: tags.length > 0 ? tags.map(familiarString) : null,
      Layers: layerPaths,
    });
    for (const tag of tags) {
      repositories[familiarName(tag)] ??= {};
      const repo = repositories[familiarName(tag)]!;
      if (parent !== undefined) repo[tag.tag!] = parent;
    }
  }

  const epoch = new Date(0);
  const entries: TarWriteEntry[] = [
    ...[...layerDirs.keys()].sort().flatMap((v1) => layerDirs.get(v1)!),
    ...configs.sort((a, b) => a.path.localeCompare(b.path)),
    { path: 'manifest.json', type: 'file', body: JSON.stringify(manifest), mtime: epoch },
  ];
  if (Object.keys(repositories).length > 0) {
    entries.push({ path: 'repositories', type: 'file', body: `${JSON.stringify(repositories)}\n`, mtime: epoch });
  }
  return writeTar(entries);
}

/**
 * The entries of an OCI image layout that is also a docker-archive: every blob once
 * under `blobs/sha256/` (layers uncompressed, so a layer's digest is its diffID, as
 * Docker 25+ writes them), one image manifest per image, `index.json` listing one
 * descriptor per name (annotated with the full name and the tag) or per unnamed image,
 * `manifest.json` and `repositories` for docker-archive readers, `oci-layout`.
 * Deterministic: the same images give the same bytes, so the manifest digests too.
 */
async function ociLayoutEntries(store: ImageStore, selected: Array<{ image: ImageRecord; tags: Reference[] }>): Promise<TarWriteEntry[]> {
  const epoch = new Date(0);
  const blobs = new Map<Digest, TarWriteEntry>();
  const index: Descriptor[] = [];
  const manifest: ArchiveManifestEntry[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const blobPath = (digest: Digest) => `blobs/sha256/${digestHex(digest)}`;
  for (const { image, tags } of selected) {
    const configBytes = await store.content.readBytes(image.id);
    blobs.set(image.id, { path: blobPath(image.id), type: 'file', body: configBytes, mtime: epoch });
    for (const layer of image.layers) {
      if (blobs.has(layer.diffId)) continue;
      blobs.set(layer.diffId, {
        path: blobPath(layer.diffId),
        type: 'file',
        size: layer.tarSize,
        mtime: epoch,
        body: async () => {
          const blob = await store.content.get(layer.digest);
          return layer.compression === 'none' ? blob : (await decompress(blob)).stream;
        },
      });
    }
    const imageManifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, digest: image.id, size: configBytes.length },
      layers: image.layers.map((layer) => ({ mediaType: MediaTypes.ociLayer, digest: layer.diffId, size: layer.tarSize })),
    };
    const manifestBytes = Buffer.from(JSON.stringify(imageManifest));
    const manifestDigest = sha256Digest(manifestBytes);
    blobs.set(manifestDigest, { path: blobPath(manifestDigest), type: 'file', body: manifestBytes, mtime: epoch });
    const descriptor: Descriptor = { mediaType: MediaTypes.ociManifest, digest: manifestDigest, size: manifestBytes.length };
    if (tags.length === 0) index.push(descriptor);
    for (const tag of tags) {
      index.push({
        ...descriptor,
        annotations: { [containerdImageNameAnnotation]: referenceString(tag), [ociRefNameAnnotation]: tag.tag! },
      });
      repositories[familiarName(tag)] ??= {};
      const top = image.diffIds.at(-1);
      if (top !== undefined) repositories[familiarName(tag)]![tag.tag!] = digestHex(top);
    }
    manifest.push({
      Config: blobPath(image.id),
      RepoTags: tags.length > 0 ? tags.map(familiarString) : null,
      Layers: image.layers.map((layer) => blobPath(layer.diffId)),
    });
  }
  const imageIndex: ImageIndex = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: index };
  const entries: TarWriteEntry[] = [
    { path: 'blobs/', type: 'directory', mtime: epoch },
    { path: 'blobs/sha256/', type: 'directory', mtime: epoch },
    ...[...blobs.values()].sort((a, b) => a.path.localeCompare(b.path)),
    { path: 'index.json', type: 'file', body: JSON.stringify(imageIndex), mtime: epoch },
    { path: 'manifest.json', type: 'file', body: JSON.stringify(manifest), mtime: epoch },
    { path: 'oci-layout', type: 'file', body: JSON.stringify({ imageLayoutVersion: '1.0.0' }), mtime: epoch },
  ];
  if (Object.keys(repositories).length > 0) {
    entries.push({ path: 'repositories', type: 'file', body: `${JSON.stringify(repositories)}\n`, mtime: epoch });
  }
  return entries;
}

function createdDate(image: ImageRecord): Date {
  const t = Date.parse(image.created);
  return Number.isNaN(t) ? new Date(0) : new Date(t);
}

// The v1 json each layer directory carries; loaders of the last decade read only
// manifest.json, but the files are part of the layout Docker writes.
function v1Json(image: ImageRecord, id: string, parent: string | undefined, top: boolean): Record<string, unknown> {
  const base: Record<string, unknown> = { id };
  if (parent !== undefined) base.parent = parent;
  if (!top) {
    return { ...base, created: image.created, container_config: { Cmd: null }, os: image.config.os };
  }
  const { rootfs: _rootfs, history: _history, ...rest } = image.config;
  void _rootfs;
  void _history;
  return { ...rest, ...base };
}
