import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fsyncDir, InvalidArgument, isBerthError, type Logger, NotFound, SystemError, silentLogger, writeJsonAtomic } from '@berth/core';
import { chainIds } from './chain-id.js';
import { ContentStore } from './content-store.js';
import { type Digest, digestHex, isDigest, parseDigest, shortId } from './digest.js';
import { checkImageConfig, type ImageConfig } from './image-config.js';
import { parseFullImageId } from './image-id.js';
import { type LayerRecord, LayerStore } from './layer-store.js';
import { type PendingImageOperation, parsePendingOperation, pendingOutcome } from './pending-operation.js';
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
  /** Names to give the image, in the same step (a tag defaults to `latest`). */
  references?: Array<string | Reference>;
}

/** One image `ImageStore.createImages` makes (or finds), with the names it gives it. */
export interface NewImage extends CreateImageOptions {
  /** The digest of its config blob, already in the content store: the image's id. */
  config: Digest;
}

/** Options of `ImageStore.open`. */
export interface ImageStoreOptions {
  /** Where the store says what it does (debug) and what it repaired; silent by default. */
  log?: Logger;
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
  /**
   * An operation that adds images, cut short (its `PendingImageOperation` record was
   * there): `undone` before its names were durable (its new images removed), `finished`
   * after. `kept` lists new images an undo left because something names or builds on them.
   */
  operations: Array<{ op: string; outcome: 'finished' | 'undone'; images: Digest[]; kept: Digest[] }>;
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
 * its config blob, then `createImages` (or `create` for one): the id is the config's
 * digest, and the names come in the same step. Names come and go with `tag`/`untag`;
 * `delete` forgets the image and returns what the engine must clean (snapshots by chain
 * ID). Policy (refusing to delete an image a container uses, `--force`) is the engine's.
 *
 * One process owns a data root: the store keeps everything in memory after `open` and
 * serialises its own writes.
 *
 * Crash safety. Every operation is a sequence of durable steps that `open` can finish or
 * undo from any point (a SIGKILL, a power loss), deciding from what is on disk:
 *
 * - a blob is named only after its digest was checked, and is fsynced (file and
 *   directory) before `ingest` returns; a layer record (`layers.register`) is written
 *   atomically only once its blob exists; an image's metadata only once its config blob
 *   and every layer record exist; a name only for an image whose metadata exists. So no
 *   name points to a missing image and no image misses a blob or a layer. Blobs and
 *   layer records nothing uses yet are garbage, collected at `open` (no operation
 *   outlives the process).
 * - `createImages` (load, import, commit) carries a write-ahead record,
 *   `images/pending.json` (`PendingImageOperation` walks through its steps): the new
 *   images' metadata, then all the names in one write, the commit point. The new images
 *   stay invisible until then. `open` finishes an operation that passed its commit
 *   point and undoes one that did not, so a cut-short load or import leaves its images
 *   named as the client asked, or gone with the blobs only they used; never an image
 *   stored without its names (which nothing would ever collect).
 *   Undo rather than finish before the commit point: the client was never told, nothing
 *   can depend on an invisible image, and undoing only removes files, whereas finishing
 *   would have recovery write names (possibly moving one from another image) that no
 *   live request checked.
 * - `tag` and `untag`/`untagImage` are one atomic write of `repositories.json` (all the
 *   names an rmi removes go at once); a tag's `lastTagTime` follows it and is advisory (a
 *   crash between leaves the previous time).
 * - `delete`'s commit point is its first step: the metadata is unlinked (directory
 *   fsynced), then the names, then the layer records and blobs no other image uses (or,
 *   while an operation inside `adding` stores blobs, when the last one ends). A
 *   crash after the first step is finished by `open`, which drops the names of a
 *   missing image and collects the garbage; so an rmi is never left half-way as an
 *   unnamed image.
 */
export class ImageStore {
  private readonly imagesDir: string;
  private readonly metadataDir: string;
  private readonly repositoriesFile: string;
  private readonly images = new Map<Digest, ImageMetadata>();
  private refs = new Map<string, Digest>();
  /** Operations inside `adding`; while any runs, unused blobs and layer records stay. */
  private adders = 0;
  /** A delete left its files for when the last adding operation ends. */
  private collectAfterAdders = false;
  /** A removal of blobs and layer records under way: `adding` waits for it. */
  private collecting: Promise<void> | undefined;
  private readonly configs = new Map<Digest, ImageConfig>();
  private queue: Promise<unknown> = Promise.resolve();
  /** What `open` repaired (see ImageStoreRecovery). */
  recovery: ImageStoreRecovery = {
    temporaryFiles: 0,
    brokenImages: [],
    danglingReferences: [],
    unusedLayers: [],
    unusedBlobs: [],
    operations: [],
  };
  private readonly pendingFile: string;

  private constructor(
    root: string,
    readonly content: ContentStore,
    readonly layers: LayerStore,
    private readonly log: Logger,
  ) {
    this.imagesDir = path.join(root, 'images');
    this.metadataDir = path.join(this.imagesDir, 'metadata');
    this.repositoriesFile = path.join(this.imagesDir, 'repositories.json');
    this.pendingFile = path.join(this.imagesDir, 'pending.json');
  }

  /**
   * Open (creating when needed) the image store of the data root `root`, and finish what
   * a crash interrupted: an operation cut short is finished or undone (see
   * `PendingImageOperation`), then temporary files, broken images, dangling names, and
   * the blobs and layer records no image uses are removed (`recovery` lists them).
   * Nothing else may be using the data root's images meanwhile.
   */
  static async open(root: string, options: ImageStoreOptions = {}): Promise<ImageStore> {
    const content = await ContentStore.open(root);
    const layers = await LayerStore.open(root, content);
    const store = new ImageStore(root, content, layers, options.log ?? silentLogger);
    await fs.mkdir(store.metadataDir, { recursive: true, mode: 0o700 });
    for (const name of await fs.readdir(store.metadataDir)) {
      if (!name.endsWith('.json')) continue;
      const meta = JSON.parse(await fs.readFile(path.join(store.metadataDir, name), 'utf8')) as ImageMetadata;
      if (isDigest(meta.id)) store.images.set(meta.id, meta);
    }
    const namesOnDisk = new Map<string, Digest>();
    try {
      const repos = JSON.parse(await fs.readFile(store.repositoriesFile, 'utf8')) as RepositoriesFile;
      for (const [ref, id] of Object.entries(repos.references ?? {})) namesOnDisk.set(ref, id);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // First the operation cut short, which may remove images: the names are judged after.
    await store.recoverPending(namesOnDisk);
    const danglingReferences: string[] = [];
    for (const [ref, id] of namesOnDisk) {
      if (store.images.has(id)) store.refs.set(ref, id);
      else danglingReferences.push(ref);
    }
    await store.recover(root, content.interruptedIngests, danglingReferences);
    return store;
  }

  /**
   * Make the image whose config is the blob `configDigest` (see `createImages`).
   * Creating an image that exists returns it (and gives it `references`).
   */
  async create(configDigest: Digest, options: CreateImageOptions = {}): Promise<ImageRecord> {
    const [record] = await this.createImages('create', [{ ...options, config: configDigest }]);
    return record!;
  }

  /**
   * Make the images whose configs are the blobs `images[].config` and give them their
   * names, as one operation that a crash leaves whole or absent (`op` names it in the
   * write-ahead record and the log: `load`, `import`, `commit`). Every layer a config
   * names must be registered in `layers`; a parent must be an image of the store. An
   * image the store has is not made again, only named. Everything is checked before
   * anything is written: a bad name or a missing layer or parent writes nothing.
   * Returns the records in the order of `images` (one per distinct id).
   *
   * The steps (`PendingImageOperation`): the record, the new images' metadata, all the
   * names in one write (the commit point), `lastTagTime` of existing images that got a
   * name, the record unlinked. The new images become visible (get, list) only once
   * their names are durable. A failure before the commit point removes what was written.
   */
  createImages(op: string, images: NewImage[]): Promise<ImageRecord[]> {
    return this.exclusive(async () => {
      const started = new Date().toISOString();
      const fresh = new Map<Digest, { meta: ImageMetadata; config: ImageConfig }>();
      const names = new Map<string, Digest>();
      const order: Digest[] = [];
      for (const image of images) {
        const id = parseDigest(image.config);
        if (!order.includes(id)) order.push(id);
        if (!this.images.has(id) && !fresh.has(id)) fresh.set(id, await this.newMetadata(id, image.parent, started));
        for (const ref of image.references ?? []) names.set(referenceString(tagReference(ref)), id);
      }
      for (const { meta } of fresh.values()) if ([...names.values()].includes(meta.id)) meta.lastTagTime = started;
      const pending: PendingImageOperation | undefined = fresh.size
        ? { op, started, images: [...fresh.keys()], references: Object.fromEntries(names) }
        : undefined;
      const refs = new Map(this.refs);
      for (const [key, id] of names) refs.set(key, id);
      if (pending) {
        await this.writePending(pending);
        this.log.debug('image operation written ahead', { op, images: pending.images.join(','), names: names.size });
      }
      try {
        for (const { meta } of fresh.values()) await this.writeMetadata(meta);
        if (names.size) await this.saveReferences(refs);
      } catch (err) {
        if (pending) await this.undoPending(pending).catch(() => undefined); // else the next open undoes it
        throw err;
      }
      // Durable: the new images and the names become visible together.
      this.refs = refs;
      for (const [id, { meta, config }] of fresh) {
        this.images.set(id, meta);
        this.configs.set(id, config);
      }
      const retagged = [...new Set(names.values())].filter((id) => !fresh.has(id));
      for (const id of retagged) await this.touchTagTime(id, started);
      if (pending) await this.removePending();
      const out: ImageRecord[] = [];
      for (const id of order) out.push(await this.record(this.images.get(id)!));
      return out;
    });
  }

  /** The metadata of a new image, checked against the store (its layers, its parent); nothing is written. */
  private async newMetadata(id: Digest, parent: Digest | undefined, added: string): Promise<{ meta: ImageMetadata; config: ImageConfig }> {
    const config = checkImageConfig(await this.content.readJson(id), id);
    const diffIds = config.rootfs.diff_ids;
    const layers = diffIds.map((d) => {
      const layer = this.layers.get(d);
      if (!layer) throw new NotFound(`cannot create image ${shortId(id)}: layer ${d} is not in the store`);
      return layer;
    });
    if (parent !== undefined && !this.images.has(parent)) {
      throw new NotFound(`cannot create image ${shortId(id)}: no such parent image: ${parent}`);
    }
    for (const layer of layers) {
      if (!(await this.content.has(layer.digest))) {
        throw new NotFound(`cannot create image ${shortId(id)}: the blob ${layer.digest} of layer ${layer.diffId} is not in the store`);
      }
    }
    const meta: ImageMetadata = {
      id,
      diffIds,
      chainIds: chainIds(diffIds),
      created: typeof config.created === 'string' && config.created !== '' ? config.created : added,
      added,
      size: layers.reduce((sum, l) => sum + l.size, 0),
    };
    if (parent !== undefined) meta.parent = parent;
    return { meta, config };
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
      const reference = tagReference(ref);
      const key = referenceString(reference);
      const previous = this.refs.get(key);
      // A name that already names this image (a rebuild's `-t`) changes nothing on disk.
      if (previous !== id) {
        this.refs.set(key, id);
        try {
          await this.saveReferences();
        } catch (err) {
          if (previous === undefined) this.refs.delete(key);
          else this.refs.set(key, previous);
          throw err;
        }
      }
      // After the name, which is the tag: a crash between leaves the previous time (advisory).
      await this.touchTagTime(id, new Date().toISOString());
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
   * Remove every name of the image `name` names, in one write (`docker rmi -f` of an
   * image stopped containers use: the names go, the image stays for them). Returns the
   * names it had, familiar and sorted; none is not an error.
   */
  untagImage(name: string): Promise<{ id: Digest; untagged: string[] }> {
    return this.exclusive(async () => {
      const id = this.resolve(name);
      const refs = new Map(this.refs);
      const untagged: string[] = [];
      for (const [key, target] of this.refs) {
        if (target !== id) continue;
        untagged.push(familiarString(parseReference(key)));
        refs.delete(key);
      }
      if (untagged.length) await this.saveReferences(refs);
      this.refs = refs;
      return { id, untagged: untagged.sort() };
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
      // The commit point: the metadata, unlinked and its directory fsynced. A crash after
      // it leaves names of a missing image (dropped at open) and garbage (collected at
      // open): the delete is finished, never left as an unnamed image; and the image is
      // gone before any of its blobs, so none is ever missing a blob.
      await this.removeMetadata(id);
      this.images.delete(id);
      this.configs.delete(id);
      const untagged: string[] = [];
      for (const [key, target] of this.refs) {
        if (target === id) {
          untagged.push(familiarString(parseReference(key)));
          this.refs.delete(key);
        }
      }
      if (untagged.length) await this.saveReferences();
      const stillUsedDiffs = new Set<Digest>();
      const stillUsedChains = new Set<Digest>();
      for (const other of this.images.values()) {
        for (const d of other.diffIds) stillUsedDiffs.add(d);
        for (const c of other.chainIds) stillUsedChains.add(c);
      }
      const removedLayers: LayerRecord[] = [];
      for (const diffId of new Set(meta.diffIds)) {
        const layer = this.layers.get(diffId);
        if (layer && !stillUsedDiffs.has(diffId)) removedLayers.push(layer);
      }
      // The files go now, unless an operation that adds images is storing blobs and layer
      // records (perhaps these very ones, for an image of its own): then when it ends.
      if (this.adders > 0) this.collectAfterAdders = true;
      else {
        await this.gated(async () => {
          for (const layer of removedLayers) {
            await this.layers.remove(layer.diffId);
            await this.content.delete(layer.digest).catch(ignoreNotFound);
          }
          await this.content.delete(id).catch(ignoreNotFound);
        });
      }
      return {
        id,
        untagged: untagged.sort(),
        removedLayers,
        unusedChainIds: [...new Set(meta.chainIds)].filter((c) => !stillUsedChains.has(c)),
      };
    });
  }

  /**
   * Run `fn`, an operation that stores blobs and layer records and then makes its images
   * with `createImages` (load, import, commit, a pull): until then they are used by no
   * image, so no removal of unused blobs and layer records runs meanwhile (a delete's
   * waits until the last such operation ends, then removes whatever no image uses), and
   * `fn` starts only once a removal under way is done. Without it, a delete could unlink
   * a layer blob that a concurrent import had just stored again, and the import's image
   * would miss it. Operations run side by side with each other.
   */
  async adding<T>(fn: () => Promise<T>): Promise<T> {
    while (this.collecting) await this.collecting;
    this.adders++;
    try {
      return await fn();
    } finally {
      this.adders--;
      if (this.adders === 0 && this.collectAfterAdders) void this.removeLeftovers();
    }
  }

  /**
   * The image store's garbage collector: removes every layer record and blob no image
   * uses (what a failed load left, what deletes put off), never one an image refers to.
   * Exclusive with the store's other changes; while an operation inside `adding` runs
   * (its blobs are no image's yet), it is put off until the last one ends and removes
   * nothing now. Safe to interrupt at any point: it only unlinks files no image refers
   * to, one at a time, and the next `open` collects whatever it did not get to. Returns
   * what it removed.
   */
  async collectGarbage(): Promise<{ layers: Digest[]; blobs: Digest[] }> {
    const removed = await this.exclusive(async () => {
      if (this.adders > 0) {
        this.collectAfterAdders = true;
        return undefined;
      }
      return this.gated(() => this.removeUnused());
    });
    return removed ?? { layers: [], blobs: [] };
  }

  /** What deletes left while adding operations ran, removed once the last one ended. */
  private async removeLeftovers(): Promise<void> {
    this.collectAfterAdders = false;
    try {
      const removed = await this.exclusive(async () => {
        // An adding operation that started meanwhile puts it off again.
        if (this.adders > 0) {
          this.collectAfterAdders = true;
          return undefined;
        }
        return this.gated(() => this.removeUnused());
      });
      if (removed && (removed.layers.length || removed.blobs.length)) {
        this.log.debug('image store: removed what deleted images left', { layers: removed.layers.length, blobs: removed.blobs.length });
      }
    } catch (err) {
      this.log.warn('image store: cannot remove what deleted images left', { error: String(err) });
    }
  }

  /** Run a removal of blobs and layer records with `adding` held off until it is done. */
  private async gated<T>(fn: () => Promise<T>): Promise<T> {
    const run = fn();
    const gate = run.then(
      () => undefined,
      () => undefined,
    );
    this.collecting = gate;
    try {
      return await run;
    } finally {
      if (this.collecting === gate) this.collecting = undefined;
    }
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

  /** The recorded parent of the image `id` (undefined: none, or no such image). */
  parentOf(id: Digest): Digest | undefined {
    return this.images.get(id)?.parent;
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
      await this.removeMetadata(meta.id);
    }
    r.danglingReferences = danglingReferences.sort();
    if (danglingReferences.length) await this.saveReferences();
    const garbage = await this.removeUnused();
    r.unusedLayers = garbage.layers;
    r.unusedBlobs = garbage.blobs;
  }

  /** Remove the layer records and blobs no image uses (no adding operation may be under way). */
  private async removeUnused(): Promise<{ layers: Digest[]; blobs: Digest[] }> {
    const out = { layers: [] as Digest[], blobs: [] as Digest[] };
    const usedDiffs = new Set<Digest>();
    for (const meta of this.images.values()) for (const d of meta.diffIds) usedDiffs.add(d);
    const usedBlobs = new Set<Digest>(this.images.keys());
    for (const layer of this.layers.list()) {
      if (usedDiffs.has(layer.diffId)) usedBlobs.add(layer.digest);
      else {
        await this.layers.remove(layer.diffId);
        out.layers.push(layer.diffId);
      }
    }
    for (const blob of await this.content.list()) {
      if (usedBlobs.has(blob.digest)) continue;
      await this.content.delete(blob.digest).catch(ignoreNotFound);
      out.blobs.push(blob.digest);
    }
    return out;
  }

  /**
   * The first step of `open`'s recovery: an operation the record says was cut short is
   * finished or undone (`pendingOutcome`), then the record goes. `images` holds every
   * metadata file; `namesOnDisk` is repositories.json as it is. Idempotent: a crash
   * during it leaves the record, and the next open decides the same.
   */
  private async recoverPending(namesOnDisk: Map<string, Digest>): Promise<void> {
    let raw: string;
    try {
      raw = await fs.readFile(this.pendingFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = undefined;
    }
    const pending = parsePendingOperation(value);
    if (!pending) {
      // Written atomically, so never torn: something else wrote it. Nothing to decide from.
      this.log.error('image store: ignored an unreadable pending operation record', { file: this.pendingFile });
      await this.removePending();
      return;
    }
    const outcome = pendingOutcome(pending, namesOnDisk, (id) => this.images.has(id));
    const kept: Digest[] = [];
    if (outcome === 'finish') {
      for (const id of new Set(Object.values(pending.references))) {
        const meta = this.images.get(id);
        if (meta && (meta.lastTagTime ?? '') < pending.started) {
          meta.lastTagTime = pending.started;
          await this.writeMetadata(meta);
        }
      }
    } else {
      for (const id of pending.images) {
        // Invisible until the commit point, a new image cannot be named by another
        // operation nor be another image's parent (nor a container's image); should one be
        // anyway (a record written by something else), it stays.
        const named = [...namesOnDisk.values()].includes(id);
        const parent = [...this.images.values()].some((m) => m.parent === id);
        if (named || parent) kept.push(id);
        else {
          await this.removeMetadata(id);
          this.images.delete(id);
        }
      }
    }
    await this.removePending();
    this.recovery.operations.push({ op: pending.op, outcome: outcome === 'finish' ? 'finished' : 'undone', images: pending.images, kept });
  }

  /** A live operation that failed before its commit point removes what it wrote. */
  private async undoPending(pending: PendingImageOperation): Promise<void> {
    for (const id of pending.images) await this.removeMetadata(id);
    await this.removePending();
  }

  // Each durable step of an operation is one of these methods (the crash tests count them).

  private writePending(pending: PendingImageOperation): Promise<void> {
    return writeJsonAtomic(this.pendingFile, pending);
  }

  /** Unlinked and the directory fsynced: a record that came back would be judged again against later writes. */
  private async removePending(): Promise<void> {
    await fs.rm(this.pendingFile, { force: true });
    await fsyncDir(this.imagesDir);
  }

  private writeMetadata(meta: ImageMetadata): Promise<void> {
    return writeJsonAtomic(this.metadataFile(meta.id), meta);
  }

  private async removeMetadata(id: Digest): Promise<void> {
    await fs.rm(this.metadataFile(id), { force: true });
    await fsyncDir(this.metadataDir);
  }

  /** `lastTagTime` after a name was given: advisory, so a failure is logged, never the tag's. */
  private async touchTagTime(id: Digest, when: string): Promise<void> {
    const meta = this.images.get(id);
    if (!meta) return;
    meta.lastTagTime = when;
    await this.writeMetadata(meta).catch((err) => this.log.warn('image store: cannot record a tag time', { id, error: String(err) }));
  }

  /** One atomic write of every name (`refs`, the store's by default). */
  private saveReferences(refs: Map<string, Digest> = this.refs): Promise<void> {
    const references: Record<string, Digest> = {};
    for (const key of [...refs.keys()].sort()) references[key] = refs.get(key)!;
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

/** A reference a tag may give: a tag (default `latest`) or a digest alone, never both. */
function tagReference(ref: string | Reference): Reference {
  const parsed = typeof ref === 'string' ? parseReference(ref) : { ...ref };
  if (parsed.tag !== undefined && parsed.digest !== undefined) {
    throw new InvalidArgument(`refusing to create a tag with a digest reference: ${familiarString(parsed)}`);
  }
  return normalizeReference(parsed);
}

function ignoreNotFound(err: unknown): void {
  if (!isBerthError(err, 'NotFound')) throw err;
}
