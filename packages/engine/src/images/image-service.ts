import type { Readable } from 'node:stream';
import {
  Conflict,
  type EventBus,
  EventBusToken,
  type Filters,
  type ImageDeleteEntry,
  type ImageHistoryEntry,
  type ImageInspect,
  type ImageSummary,
  type ImagesApi,
  type ImagesDiskUsage,
  type ImagesPruneReport,
  type ImportOptions,
  InvalidArgument,
  inject,
  injectable,
  isBerthError,
  type Logger,
  LoggerToken,
  type PullOptions,
  type PushOptions,
  type RegistryAuth,
  type StorageDriver,
  StorageDriverToken,
  token,
} from '@berth/core';
import {
  applyChanges,
  type Digest,
  familiarString,
  type ImageRecord,
  type ImageStore,
  importRootfs,
  loadArchive,
  normalizeReference,
  parseReference,
  type Reference,
  referenceName,
  referenceString,
  saveArchive,
  shortId,
  targetReference,
} from '@berth/image';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { matchesLabel } from '../filters/label-filter.js';
import { untilMs } from '../filters/until-filter.js';
import { imagesDiskUsage } from './image-disk-usage.js';
import { type ImageHolds, ImageHoldsToken } from './image-holds.js';
import { type ImageQueries, ImageQueriesToken } from './image-queries.js';
import { ImageStoreToken } from './image-store-token.js';
import { type ImageUsers, ImageUsersToken } from './image-users.js';
import { downloadTarball, importUrl } from './import-source.js';
import { loginRegistry, pullImages, pushImages } from './registry-transfers.js';

/** The filters `docker image prune` takes. */
const imagePruneFilterKeys = new Set(['dangling', 'until', 'label', 'label!']);

/**
 * The engine's images as the API serves them (`ImagesApi`): the queries come from
 * `ImageQueries`; this service owns the changes — tag, untag and remove (with Docker's
 * conflict rules, asking `ImageUsers` which containers use an image), import, load and
 * save — and the image events they publish. Removing an image also removes the layer
 * snapshots no other image uses.
 */
@injectable()
export class ImageService implements ImagesApi {
  constructor(
    @inject(ImageStoreToken) private readonly store: ImageStore,
    @inject(ImageQueriesToken) private readonly queries: ImageQueries,
    @inject(ImageUsersToken) private readonly users: ImageUsers,
    @inject(ImageHoldsToken) private readonly holds: ImageHolds,
    @inject(StorageDriverToken) private readonly storage: StorageDriver,
    @inject(EventBusToken) private readonly events: EventBus,
    @inject(LoggerToken) private readonly log: Logger,
    @inject(EngineConfigToken) private readonly config: ResolvedEngineConfig,
  ) {}

  list(options: { all?: boolean; filters?: Filters } = {}): Promise<ImageSummary[]> {
    return this.queries.list(options);
  }

  inspect(ref: string): Promise<ImageInspect> {
    return this.queries.inspect(ref);
  }

  history(ref: string): Promise<ImageHistoryEntry[]> {
    return this.queries.history(ref);
  }

  async tag(ref: string, repo: string, tag?: string): Promise<void> {
    if (!repo) throw new InvalidArgument('repository name must have at least one component');
    const target = tag ? `${repo}:${tag}` : repo;
    const id = this.store.resolve(ref);
    const { reference } = await this.store.tag(id, parseReference(target));
    this.events.publish('image', 'tag', id, { name: familiar(reference) });
  }

  async remove(ref: string, options: { force?: boolean; noprune?: boolean } = {}): Promise<ImageDeleteEntry[]> {
    const id = this.store.resolve(ref);
    const names = this.store.references(id).map(familiar);
    const byName = !isIdLike(ref, id);
    const out: ImageDeleteEntry[] = [];
    const references = this.store.references(id);
    if (byName && names.length > 1) {
      // Docker's rule: untagging the last tag of a repository also drops that repository's
      // repo digests (`x@sha256:…`, what a pull or push records); the image goes only
      // when nothing names it any more, through the checks below.
      const target = normalizeReference(ref);
      const dropped = droppedWithUntag(references, target);
      if (dropped.length < references.length) {
        for (const reference of dropped) {
          await this.store.untag(reference);
          this.events.publish('image', 'untag', id, { name: familiar(reference) });
          out.push({ Untagged: familiar(reference) });
        }
        return out;
      }
    }
    // Images built on this one (a build's next step, a commit): it stays for them. By
    // name, its last name goes and it stays as their intermediate image; by id, refused.
    const parent = this.store.parentOf(id);
    const hasChildren = this.store.children(id).length > 0;
    if (hasChildren && !byName) {
      throw new Conflict(`conflict: unable to delete ${shortId(id)} (cannot be forced) - image has dependent child images`);
    }
    // By id: refused without -f when names from more than one repository would go (a tag
    // and the repo digest of one repository are one, as in Docker).
    if (!byName && new Set(references.map(referenceName)).size > 1 && !options.force) {
      throw new Conflict(`conflict: unable to delete ${shortId(id)} (must be forced) - image is referenced in multiple repositories`);
    }
    // From here to the hold on the image, no await: a create holds it first (and is a user)
    // or finds it held and fails (ImageHolds).
    const users = [...this.users.usersOf(id), ...this.holds.creators(id).map((c) => ({ id: c, running: false }))];
    if (this.holds.heldByBuild(id)) {
      throw new Conflict(`conflict: unable to delete ${shortId(id)} (cannot be forced) - image is being used by a build in progress`);
    }
    const running = users.find((c) => c.running);
    if (running) {
      throw new Conflict(
        `conflict: unable to delete ${shortId(id)} (cannot be forced) - image is being used by running container ${running.id.slice(0, 12)}`,
      );
    }
    if (users.length || hasChildren) {
      if (users.length && !options.force) {
        const what = byName ? `remove repository reference "${ref}"` : `delete ${shortId(id)}`;
        throw new Conflict(
          `conflict: unable to ${what} (must force) - container ${users[0].id.slice(0, 12)} is using its referenced image ${shortId(id)}`,
        );
      }
      // Forced while stopped containers use it, or images are built on it: the names go
      // (all in one write, so a crash leaves all or none), the image stays for them.
      const { untagged } = await this.store.untagImage(id);
      for (const name of untagged) {
        this.events.publish('image', 'untag', id, { name });
        out.push({ Untagged: name });
      }
      return out;
    }
    out.push(...(await this.deleteImage(id)));
    // Docker's rmi without --no-prune: the untagged parents nothing else needs go too.
    if (!options.noprune && parent) out.push(...(await this.deleteUntaggedParents(parent)));
    return out;
  }

  private exists(id: string): boolean {
    try {
      return this.store.resolve(id) === id;
    } catch {
      return false;
    }
  }

  /** Delete an image whose users were checked (in the same synchronous step as this hold). */
  private async deleteImage(id: string): Promise<ImageDeleteEntry[]> {
    const out: ImageDeleteEntry[] = [];
    const release = this.holds.holdForRemoval(id);
    const result = await this.store.delete(id).finally(release);
    for (const name of result.untagged) {
      this.events.publish('image', 'untag', id, { name });
      out.push({ Untagged: name });
    }
    for (const chainId of [...result.unusedChainIds].reverse()) {
      await this.storage.remove(chainId).catch((err) => {
        if (!isBerthError(err, 'NotFound')) this.log.warn('cannot remove a layer snapshot', { chainId, error: String(err) });
      });
    }
    out.push({ Deleted: id });
    for (const layer of result.removedLayers) out.push({ Deleted: layer.diffId });
    this.log.debug('image deleted', { id, snapshots: result.unusedChainIds.length });
    this.events.publish('image', 'delete', id, { name: id });
    return out;
  }

  /**
   * From `id` up the parent chain, each image that has no name, no other child, no
   * container and no build holding it is deleted (a build's intermediate images under the
   * image an rmi removed); the walk stops at the first that is still needed.
   */
  private async deleteUntaggedParents(first: Digest): Promise<ImageDeleteEntry[]> {
    const out: ImageDeleteEntry[] = [];
    let id: Digest | undefined = first;
    while (id) {
      const next: Digest | undefined = this.store.parentOf(id);
      // From these checks to the hold in deleteImage, no await (ImageHolds).
      if (!this.exists(id) || this.store.references(id).length > 0 || this.store.children(id).length > 0) break;
      if (this.users.usersOf(id).length || this.holds.creators(id).length || this.holds.heldByBuild(id)) break;
      out.push(...(await this.deleteImage(id)));
      id = next;
    }
    return out;
  }

  async import(tar: Readable, options: ImportOptions): Promise<string> {
    const source = options.source && options.source !== '-' ? importUrl(options.source) : undefined;
    // Checked before a byte is downloaded: a bad name or change costs no transfer.
    targetReference('import', options.repo || undefined, options.tag || undefined);
    applyChanges({}, options.changes ?? []);
    const result = await importRootfs(this.store, source ? await downloadTarball(source) : tar, {
      repo: options.repo || undefined,
      tag: options.tag || undefined,
      message: options.message || undefined,
      changes: options.changes,
      source: source ? source.href : '-',
    });
    this.log.debug('image imported', { id: result.id });
    this.events.publish('image', 'import', result.id, { name: result.reference ? familiar(result.reference) : result.id });
    return result.id;
  }

  async load(tar: Readable): Promise<string[]> {
    const result = await loadArchive(this.store, tar);
    this.log.debug('image loaded', { images: result.images.map((i) => i.id).join(',') });
    const names: string[] = [];
    for (const image of result.images) {
      const shown = image.repoTags.length ? image.repoTags : [image.id];
      names.push(...shown);
      this.events.publish('image', 'load', image.id, { name: shown[0] });
    }
    return names;
  }

  async save(refs: string[], options: { format?: 'docker' | 'oci' } = {}): Promise<Readable> {
    if (!refs.length) throw new InvalidArgument('no image names given to save');
    const stream = await saveArchive(this.store, refs, { format: options.format });
    for (const ref of refs) {
      // A bare repository name saves every tag of it, and may resolve to no single image.
      const ids = this.savedIds(ref);
      for (const id of ids) this.events.publish('image', 'save', id, { name: ref });
    }
    return stream;
  }

  async pull(ref: string, options: PullOptions): Promise<void> {
    const pulled = await pullImages(this.store, ref, options, this.config.registry, this.config.serverVersion);
    for (const { id, name } of pulled) {
      this.log.debug('image pulled', { id, name });
      this.events.publish('image', 'pull', id, { name });
    }
  }

  async push(ref: string, options: PushOptions): Promise<void> {
    const pushed = await pushImages(this.store, ref, options, this.config.registry, this.config.serverVersion);
    for (const { id, name } of pushed) this.events.publish('image', 'push', id, { name });
  }

  login(auth: RegistryAuth): Promise<{ Status: string; IdentityToken?: string }> {
    return loginRegistry(auth, this.config.registry, this.config.serverVersion);
  }

  async prune(filters: Filters = {}): Promise<ImagesPruneReport> {
    for (const key of Object.keys(filters)) if (!imagePruneFilterKeys.has(key)) throw new InvalidArgument(`Invalid filter '${key}'`);
    const dangling = filters.dangling ?? ['true'];
    if (dangling.some((v) => !['true', 'false', '1', '0'].includes(v))) {
      throw new InvalidArgument(`Invalid filter 'dangling=${dangling.join(',')}'`);
    }
    const onlyDangling = dangling.every((v) => v === 'true' || v === '1');
    const until = (filters.until ?? []).map((v) => untilMs(v));
    const labels = (image: ImageRecord, spec: string) => matchesLabel(image.config.config?.Labels, spec);
    const candidates = (await this.store.list()).filter(
      (image) =>
        (!onlyDangling || image.repoTags.length === 0) &&
        this.users.usersOf(image.id).length === 0 &&
        this.holds.creators(image.id).length === 0 &&
        !this.holds.heldByBuild(image.id) &&
        !until.some((u) => Date.parse(image.created) >= u) &&
        (filters.label ?? []).every((l) => labels(image, l)) &&
        !(filters['label!'] ?? []).some((l) => labels(image, l)),
    );
    const layerBytes = () => this.store.layers.list().reduce((sum, layer) => sum + layer.size, 0);
    const before = layerBytes();
    const deleted: ImageDeleteEntry[] = [];
    for (const image of candidates) {
      try {
        deleted.push(...(await this.remove(image.id, { force: true })));
      } catch (err) {
        // Another request took it (a create, a delete) meanwhile: not this prune's to report.
        if (!isBerthError(err, 'Conflict') && !isBerthError(err, 'NotFound')) throw err;
        this.log.debug('image prune skipped an image', { id: image.id, error: String(err) });
      }
    }
    // What failed loads stored and no image came to use goes too.
    const collected = await this.store.collectGarbage();
    if (collected.blobs.length)
      this.log.debug('image prune collected unused blobs', { blobs: collected.blobs.length, layers: collected.layers.length });
    const reclaimed = Math.max(0, before - layerBytes());
    this.events.publish('image', 'prune', '', { reclaimed: String(reclaimed) });
    return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }

  async diskUsage(): Promise<ImagesDiskUsage> {
    const [records, summaries] = await Promise.all([this.store.list(), this.queries.list({ all: true })]);
    return imagesDiskUsage(records, summaries, (id) => this.users.usersOf(id).length);
  }

  /** The images `save` wrote for `ref`: the one it resolves to, else every tagged image of the repository it names. */
  private savedIds(ref: string): string[] {
    try {
      return [this.store.resolve(ref)];
    } catch (err) {
      if (!isBerthError(err, 'NotFound')) throw err;
      return [...new Set(this.store.repository(referenceName(parseReference(ref))).map((r) => r.id))];
    }
  }
}

/** The images the API serves: replace it to serve images from elsewhere. */
export const ImageServiceToken = token<ImagesApi>('ImageService');

function familiar(reference: Reference): string {
  return familiarString(reference);
}

/**
 * The references an untag of `target` removes, `target` first: with it, when no other tag
 * of its repository is left, that repository's digest references (Docker's rule).
 */
function droppedWithUntag(references: Reference[], target: Reference): Reference[] {
  const key = referenceString(target);
  const own = references.find((r) => referenceString(r) === key);
  if (!own) return [target];
  if (own.tag === undefined) return [own];
  const sameRepository = references.filter((r) => referenceName(r) === referenceName(own) && referenceString(r) !== key);
  if (sameRepository.some((r) => r.tag !== undefined)) return [own];
  return [own, ...sameRepository.filter((r) => r.digest !== undefined)];
}

/** Whether `ref` named the image by its id (or a prefix of it) rather than by a name. */
function isIdLike(ref: string, id: Digest): boolean {
  const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
  return /^[0-9a-f]+$/.test(hex) && id.slice(7).startsWith(hex);
}
