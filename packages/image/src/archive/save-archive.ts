import type { Readable } from 'node:stream';
import { NotFound } from '@berth/core';
import { decompress } from '../compression.js';
import { type Digest, digestHex, sha256Digest } from '../digest.js';
import type { ImageRecord, ImageStore } from '../image-store.js';
import type { ArchiveManifestEntry } from '../manifest.js';
import {
  familiarName,
  familiarString,
  isNameOnly,
  normalizeReference,
  parseReference,
  type Reference,
  referenceName,
} from '../reference.js';
import { type TarWriteEntry, writeTar } from '../tar/writer.js';

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
export async function saveArchive(store: ImageStore, names: readonly string[]): Promise<Readable> {
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
