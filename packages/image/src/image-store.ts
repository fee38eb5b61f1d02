import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fsyncDir, InvalidArgument, isBerthError, NotFound, SystemError, writeJsonAtomic } from '@berth/core';
import { chainIds } from './chain-id.js';
import { ContentStore } from './content-store.js';
import { type Digest, digestHex, isDigest, parseDigest, shortId } from './digest.js';
import { checkImageConfig, type ImageConfig } from './image-config.js';
import { parseFullImageId } from './image-id.js';
import { type LayerRecord, LayerStore } from './layer-store.js';
import { familiarString, normalizeReference, parseReference, type Reference, referenceName, referenceString } from './reference.js';

/** An image as the store knows it: its config, its layers, its names. */
export interface ImageRecord {
  /** The digest of the config blob: `sha256:<hex>`. */
  id: Digest;
  config: ImageConfig;
  /** Bottom first. */
  layers: LayerRecord[];
  diffIds: Digest[];
  chainIds: Digest[];
  /** When the image was made: the config's `created`, else when it entered this store. ISO 8601. */
  created: string;
  /** When the image entered this store. */
  added: string;
  /** When a name was last given to the image (`Metadata.LastTagTime`). */
  lastTagTime?: string;
  /** The image this one was built from (`docker build`'s parent), if recorded. */
  parent?: Digest;
  /** Sum of the layers' sizes. */
  size: number;
  /** Familiar `name:tag` strings, sorted: `busybox:latest`. */
  repoTags: string[];
  /** Familiar `name@digest` strings, sorted. */
  repoDigests: string[];
}

/** What `ImageStore.delete` removed, for the engine to report and clean up after. */
export interface ImageDeleteResult {
  id: Digest;
  /** The names the image had (familiar form). */
  untagged: string[];
  /** Layers no remaining image uses; their blobs are deleted. */
  removedLayers: LayerRecord[];
  /** Chain IDs of the deleted image that no remaining image has: snapshots to remove. */
  unusedChainIds: Digest[];
}

/** Options of `ImageStore.create`. */
export interface CreateImageOptions {
  /** The image this one was built on (kept as `Parent`, used by the build cache). */
  parent?: Digest;
}

/** The on-disk record of one image: `<root>/images/metadata/<hex>.json`. */
interface ImageMetadata {
  id: Digest;
  diffIds: Digest[];
  chainIds: Digest[];
  created: string;
  added: string;
  lastTagTime?: string;
  parent?: Digest;
  size: number;
}

/**
 * What `ImageStore.open` found left by a crash (or a damaged disk) and repaired, so the
 * engine can log it. Empty after a clean shutdown.
 */
export interface ImageStoreRecovery {
  /** Temporary files of interrupted writes: blob ingests and atomic record writes. */
  temporaryFiles: number;
  /** Images forgotten, with their names, because their config blob or a layer is missing. */
  brokenImages: Array<{ id: Digest; reason: string }>;
  /** References that named no image, dropped. */
  danglingReferences: string[];
  /** Layer records no image uses (an interrupted load, import or delete), forgotten. */
  unusedLayers: Digest[];
  /** Blobs no image or used layer refers to, deleted. */
  unusedBlobs: Digest[];
}

interface RepositoriesFile {
  /** Fully qualified reference → image id. */
  references: Record<string, Digest>;
}

/**
 * The images of a data root and their names. Layout under `<root>`:
 *
 * - `blobs/sha256/<hex>`: every config and layer blob (the `ContentStore`);
 * - `images/layers/<diffhex>.json`: where each layer's bytes are (the `LayerStore`);
 * - `images/metadata/<idhex>.json`: one record per image (diffIDs, chain IDs, created,
 *   last tag time, parent, size);
 * - `images/repositories.json`: every name → image id, one file written atomically.
 *
 * Making an image: store its layer blobs and register them (`layers.register`), store
 * its config blob, then `create(configDigest)`; the id is the config's digest. Names
 * come and go with `tag`/`untag`; `delete` forgets the image and returns what the
 * engine must clean (snapshots by chain ID). Policy (refusing to delete an image a
 * container uses, `--force`) is the engine's.
 *
 * One process owns a data root: the store keeps everything in memory after `open` and
 * serialises its own writes.
 *
 * Crash safety. Every step is durable before the next one refers to it, so the files on
 * disk are, at any instant, a consistent store plus garbage:
 *
 * - a blob is named only after its digest was checked, and is fsynced (file and
 *   directory) before `ingest` returns; a layer record (`layers.register`) is written
 *   atomically only once its blob exists; an image's metadata (`create`) only once its
 *   config blob and every layer record exist; a name (`tag`) only for an image whose
 *   metadata exists. So no name points to a missing image and no image misses a blob or
 *   a layer.
 * - `delete` goes the other way: the names first (repositories.json, atomically), then
 *   the metadata (unlinked, directory fsynced), then the layer records and blobs no other
 *   image uses.
 * - A crash between two steps leaves only things nothing refers to: a temporary file, a
 *   blob or a layer record without image (an interrupted load, import or delete), or an
 *   image without a name (a load or import interrupted before its tag: it is listed as
 *   `<none>`, whole). `open` removes the temporary files and, since no operation outlives
 *   the process, every blob and layer record no image uses (`recovery` says what).
 */
export class ImageStore {
  private readonly imagesDir: string;
  private readonly metadataDir: string;
  private readonly repositoriesFile: string;
  private readonly images = new Map<Digest, ImageMetadata>();
  private readonly refs = new Map<string, Digest>();
  private readonly configs = new Map<Digest, ImageConfig>();
  private queue: Promise<unknown> = Promise.resolve();
  /** What `open` repaired (see ImageStoreRecovery). */
  recovery: ImageStoreRecovery = { temporaryFiles: 0, brokenImages: [], danglingReferences: [], unusedLayers: [], unusedBlobs: [] };

  private constructor(
    root: string,
    readonly content: ContentStore,
    readonly layers: LayerStore,
  ) {
    this.imagesDir = path.join(root, 'images');
    this.metadataDir = path.join(this.imagesDir, 'metadata');
    this.repositoriesFile = path.join(this.imagesDir, 'repositories.json');
  }

  /**
   * Open (creating when needed) the image store of the data root `root`, and finish what
   * a crash interrupted: temporary files, broken images, dangling names, and the blobs
   * and layer records no image uses are removed (`recovery` lists them). Nothing else may
   * be using the data root's images meanwhile.
   */
  static async open(root: string): Promise<ImageStore> {
    const content = await ContentStore.open(root);
    const layers = await LayerStore.open(root, content);
    const store = new ImageStore(root, content, layers);
    await fs.mkdir(store.metadataDir, { recursive: true, mode: 0o700 });
    for (const name of await fs.readdir(store.metadataDir)) {
      if (!name.endsWith('.json')) continue;
      const meta = JSON.parse(await fs.readFile(path.join(store.metadataDir, name), 'utf8')) as ImageMetadata;
      if (isDigest(meta.id)) store.images.set(meta.id, meta);
    }
    const danglingReferences: string[] = [];
    try {
      const repos = JSON.parse(await fs.readFile(store.repositoriesFile, 'utf8')) as RepositoriesFile;
      for (const [ref, id] of Object.entries(repos.references ?? {})) {
        if (store.images.has(id)) store.refs.set(ref, id);
        else danglingReferences.push(ref);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await store.recover(root, content.interruptedIngests, danglingReferences);
    return store;
  }

  /**
   * Make the image whose config is the blob `configDigest`. Every layer the config
   * names must be registered in `layers`. Creating an image that exists returns it.
   */
  create(configDigest: Digest, options: CreateImageOptions = {}): Promise<ImageRecord> {
    return this.exclusive(async () => {
      const id = parseDigest(configDigest);
      const existing = this.images.get(id);
      if (existing) return this.record(existing);
      const config = checkImageConfig(await this.content.readJson(id), id);
      const diffIds = config.rootfs.diff_ids;
      const layers = diffIds.map((d) => {
        const layer = this.layers.get(d);
        if (!layer) throw new NotFound(`cannot create image ${shortId(id)}: layer ${d} is not in the store`);
        return layer;
      });
      if (options.parent !== undefined && !this.images.has(options.parent)) {
        throw new NotFound(`cannot create image ${shortId(id)}: no such parent image: ${options.parent}`);
      }
      const added = new Date().toISOString();
      const meta: ImageMetadata = {
        id,
        diffIds,
        chainIds: chainIds(diffIds),
        created: typeof config.created === 'string' && config.created !== '' ? config.created : added,
        added,
        size: layers.reduce((sum, l) => sum + l.size, 0),
      };
      if (options.parent !== undefined) meta.parent = options.parent;
      await writeJsonAtomic(this.metadataFile(id), meta);
      this.images.set(id, meta);
      this.configs.set(id, config);
      return this.record(meta);
    });
  }

  /**
   * The image named by a full id (`sha256:<hex>` or `<hex>`), a reference
   * (`busybox`, `busybox:latest`, `x@sha256:…`) or a unique id prefix (`01e7ee02`,
   * `sha256:01e7`), tried in Docker's order. NotFound: `No such image: busybox:latest`;
   * an ambiguous prefix is an InvalidArgument.
   */
  async get(name: string): Promise<ImageRecord> {
    return this.record(this.images.get(this.resolve(name))!);
  }

  /** `get` that answers undefined instead of NotFound. */
  async find(name: string): Promise<ImageRecord | undefined> {
    try {
      return await this.get(name);
    } catch (err) {
      if (isBerthError(err, 'NotFound')) return undefined;
      throw err;
    }
  }

  /** The full id of the image `name` names (see `get`). */
  resolve(name: string): Digest {
    const full = parseFullImageId(name);
    if (full) {
      if (this.images.has(full)) return full;
      throw new NotFound(`No such image: ${name}`);
    }
    let ref: Reference | undefined;
    let refError: unknown;
    try {
      ref = normalizeReference(name);
    } catch (err) {
      refError = err;
    }
    if (ref) {
      const id = this.refs.get(referenceString(ref));
      if (id) return id;
    }
    const prefix = /^(?:sha256:)?([0-9a-f]{1,63})$/.exec(name)?.[1];
    if (prefix !== undefined) {
      const matches = [...this.images.keys()].filter((id) => digestHex(id).startsWith(prefix));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) {
        throw new InvalidArgument(`image id prefix ${JSON.stringify(name)} is ambiguous: it matches ${matches.length} images`);
      }
    }
    if (!ref) throw refError;
    throw new NotFound(`No such image: ${familiarString(ref)}`);
  }

  /**
   * Give the image `name` the reference `ref` (a tag defaults to `latest`; a digest
   * reference without tag records a repo digest). A reference held by another image
   * moves, and that image's id is returned as `previous`.
   */
  tag(name: string, ref: string | Reference): Promise<{ reference: Reference; previous?: Digest }> {
    return this.exclusive(async () => {
      const id = this.resolve(name);
      const parsed = typeof ref === 'string' ? parseReference(ref) : { ...ref };
      if (parsed.tag !== undefined && parsed.digest !== undefined) {
        throw new InvalidArgument(`refusing to create a tag with a digest reference: ${familiarString(parsed)}`);
      }
      const reference = normalizeReference(parsed);
      const key = referenceString(reference);
      const previous = this.refs.get(key);
      this.refs.set(key, id);
      try {
        await this.saveReferences();
      } catch (err) {
        if (previous === undefined) this.refs.delete(key);
        else this.refs.set(key, previous);
        throw err;
      }
      const meta = this.images.get(id)!;
      meta.lastTagTime = new Date().toISOString();
      await writeJsonAtomic(this.metadataFile(id), meta);
      return previous !== undefined && previous !== id ? { reference, previous } : { reference };
    });
  }

  /** Remove the reference `ref`; returns the image it named. NotFound: `No such image: x:latest`. */
  untag(ref: string | Reference): Promise<{ id: Digest; reference: Reference }> {
    return this.exclusive(async () => {
      const reference = normalizeReference(ref);
      const key = referenceString(reference);
      const id = this.refs.get(key);
      if (id === undefined) throw new NotFound(`No such image: ${familiarString(reference)}`);
      this.refs.delete(key);
      try {
        await this.saveReferences();
      } catch (err) {
        this.refs.set(key, id);
        throw err;
      }
      return { id, reference };
    });
  }

  /**
   * Forget an image (by any name `get` accepts) with all its references, delete its
   * config blob, and the blobs of layers no other image uses. Unconditional: whether
   * the image may go (containers, children, other tags) is the caller's decision.
   */
  delete(name: string): Promise<ImageDeleteResult> {
    return this.exclusive(async () => {
      const id = this.resolve(name);
      const meta = this.images.get(id)!;
      const untagged: string[] = [];
      for (const [key, target] of this.refs) {
        if (target === id) {
          untagged.push(familiarString(parseReference(key)));
          this.refs.delete(key);
        }
      }
      await this.saveReferences();
      // The image is durably gone before its blobs go: a crash in between leaves garbage
      // (collected at open), never an image missing a blob.
      await fs.rm(this.metadataFile(id), { force: true });
      await fsyncDir(this.metadataDir);
      this.images.delete(id);
      this.configs.delete(id);
      const stillUsedDiffs = new Set<Digest>();
      const stillUsedChains = new Set<Digest>();
      for (const other of this.images.values()) {
        for (const d of other.diffIds) stillUsedDiffs.add(d);
        for (const c of other.chainIds) stillUsedChains.add(c);
      }
      const removedLayers: LayerRecord[] = [];
      for (const diffId of new Set(meta.diffIds)) {
        if (stillUsedDiffs.has(diffId)) continue;
        const layer = this.layers.get(diffId);
        if (!layer) continue;
        await this.layers.remove(diffId);
        await this.content.delete(layer.digest).catch((err: unknown) => {
          if (!isBerthError(err, 'NotFound')) throw err;
        });
        removedLayers.push(layer);
      }
      await this.content.delete(id).catch((err: unknown) => {
        if (!isBerthError(err, 'NotFound')) throw err;
      });
      return {
        id,
        untagged: untagged.sort(),
        removedLayers,
        unusedChainIds: [...new Set(meta.chainIds)].filter((c) => !stillUsedChains.has(c)),
      };
    });
  }

  /** Every image, in no particular order. */
  async list(): Promise<ImageRecord[]> {
    const out: ImageRecord[] = [];
    for (const meta of this.images.values()) out.push(await this.record(meta));
    return out;
  }

  /** The references of an image, fully qualified, sorted. */
  references(id: Digest): Reference[] {
    const out: Reference[] = [];
    for (const [key, target] of this.refs) if (target === id) out.push(parseReference(key));
    return out.sort((a, b) => referenceString(a).localeCompare(referenceString(b)));
  }

  /** The image a reference names, if any (no default tag is added). */
  lookupReference(ref: Reference): Digest | undefined {
    return this.refs.get(referenceString(ref));
  }

  /** Every reference of a repository (`docker.io/library/busybox`), with the image each names. */
  repository(name: string): Array<{ reference: Reference; id: Digest }> {
    const out: Array<{ reference: Reference; id: Digest }> = [];
    for (const [key, id] of this.refs) {
      const reference = parseReference(key);
      if (referenceName(reference) === name) out.push({ reference, id });
    }
    return out.sort((a, b) => referenceString(a.reference).localeCompare(referenceString(b.reference)));
  }

  /** Ids of the images whose recorded parent is `id`. */
  children(id: Digest): Digest[] {
    return [...this.images.values()].filter((m) => m.parent === id).map((m) => m.id);
  }

  private async record(meta: ImageMetadata): Promise<ImageRecord> {
    let config = this.configs.get(meta.id);
    if (!config) {
      config = checkImageConfig(await this.content.readJson(meta.id), meta.id);
      this.configs.set(meta.id, config);
    }
    const refs = this.references(meta.id);
    const record: ImageRecord = {
      id: meta.id,
      config,
      layers: meta.diffIds.map((d) => {
        const layer = this.layers.get(d);
        if (!layer) throw new SystemError(`image ${meta.id}: layer ${d} is missing from the store`);
        return layer;
      }),
      diffIds: [...meta.diffIds],
      chainIds: [...meta.chainIds],
      created: meta.created,
      added: meta.added,
      size: meta.size,
      repoTags: refs
        .filter((r) => r.tag !== undefined)
        .map(familiarString)
        .sort(),
      repoDigests: refs
        .filter((r) => r.tag === undefined && r.digest !== undefined)
        .map(familiarString)
        .sort(),
    };
    if (meta.lastTagTime !== undefined) record.lastTagTime = meta.lastTagTime;
    if (meta.parent !== undefined) record.parent = meta.parent;
    return record;
  }

  /**
   * The crash recovery of `open`: runs before anyone uses the store. Order matters only for
   * a crash during recovery itself, and every step here is idempotent.
   */
  private async recover(root: string, interruptedIngests: number, danglingReferences: string[]): Promise<void> {
    const r = this.recovery;
    r.temporaryFiles = interruptedIngests;
    // writeJsonAtomic's temporary files (`.<name>.<hex>.tmp`) of records being written.
    for (const dir of [this.imagesDir, this.metadataDir, path.join(root, 'images', 'layers')]) {
      for (const name of await fs.readdir(dir)) {
        if (name.startsWith('.') && name.endsWith('.tmp')) {
          await fs.rm(path.join(dir, name), { force: true });
          r.temporaryFiles++;
        }
      }
    }
    // An image missing its config blob or a layer cannot be used or even listed; the
    // write order never makes one, so this is a damaged disk: forget it with its names.
    for (const meta of [...this.images.values()]) {
      const missing = !(await this.content.has(meta.id))
        ? 'its config blob is missing'
        : meta.diffIds.map((d) => (this.layers.get(d) ? undefined : `layer ${d} is missing`)).find((x) => x !== undefined);
      if (missing === undefined) continue;
      r.brokenImages.push({ id: meta.id, reason: missing });
      this.images.delete(meta.id);
      for (const [ref, target] of this.refs) {
        if (target === meta.id) {
          this.refs.delete(ref);
          danglingReferences.push(ref);
        }
      }
      await fs.rm(this.metadataFile(meta.id), { force: true });
    }
    r.danglingReferences = danglingReferences.sort();
    if (danglingReferences.length) await this.saveReferences();
    // Garbage: layer records and blobs no image uses.
    const usedDiffs = new Set<Digest>();
    for (const meta of this.images.values()) for (const d of meta.diffIds) usedDiffs.add(d);
    const usedBlobs = new Set<Digest>(this.images.keys());
    for (const layer of this.layers.list()) {
      if (usedDiffs.has(layer.diffId)) usedBlobs.add(layer.digest);
      else {
        await this.layers.remove(layer.diffId);
        r.unusedLayers.push(layer.diffId);
      }
    }
    for (const blob of await this.content.list()) {
      if (usedBlobs.has(blob.digest)) continue;
      await this.content.delete(blob.digest).catch((err: unknown) => {
        if (!isBerthError(err, 'NotFound')) throw err;
      });
      r.unusedBlobs.push(blob.digest);
    }
  }

  private saveReferences(): Promise<void> {
    const references: Record<string, Digest> = {};
    for (const key of [...this.refs.keys()].sort()) references[key] = this.refs.get(key)!;
    return writeJsonAtomic(this.repositoriesFile, { references } satisfies RepositoriesFile);
  }

  private metadataFile(id: Digest): string {
    return path.join(this.metadataDir, `${digestHex(id)}.json`);
  }

  // Writes run one at a time, so read-modify-write of repositories.json never interleaves.
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
