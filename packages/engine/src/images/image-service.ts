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
  type Digest,
  familiarString,
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
} from '@berth/image';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { type ImageHolds, ImageHoldsToken } from './image-holds.js';
import { type ImageQueries, ImageQueriesToken } from './image-queries.js';
import { ImageStoreToken } from './image-store-token.js';
import { type ImageUsers, ImageUsersToken } from './image-users.js';
import { loginRegistry, pullImages, pushImages } from './registry-transfers.js';

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
    // By id: refused without -f when names from more than one repository would go (a tag
    // and the repo digest of one repository are one, as in Docker).
    if (!byName && new Set(references.map(referenceName)).size > 1 && !options.force) {
      throw new Conflict(`conflict: unable to delete ${shortId(id)} (must be forced) - image is referenced in multiple repositories`);
    }
    // From here to the hold on the image, no await: a create holds it first (and is a user)
    // or finds it held and fails (ImageHolds).
    const users = [...this.users.usersOf(id), ...this.holds.creators(id).map((c) => ({ id: c, running: false }))];
    const running = users.find((c) => c.running);
    if (running) {
      throw new Conflict(
        `conflict: unable to delete ${shortId(id)} (cannot be forced) - image is being used by running container ${running.id.slice(0, 12)}`,
      );
    }
    if (users.length) {
      if (!options.force) {
        const what = byName ? `remove repository reference "${ref}"` : `delete ${shortId(id)}`;
        throw new Conflict(
          `conflict: unable to ${what} (must force) - container ${users[0].id.slice(0, 12)} is using its referenced image ${shortId(id)}`,
        );
      }
      // Forced while stopped containers use it: the names go (all in one write, so a crash
      // leaves all or none), the image stays for them.
      const { untagged } = await this.store.untagImage(id);
      for (const name of untagged) {
        this.events.publish('image', 'untag', id, { name });
        out.push({ Untagged: name });
      }
      return out;
    }
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

  async import(tar: Readable, options: ImportOptions): Promise<string> {
    const result = await importRootfs(this.store, tar, {
      repo: options.repo || undefined,
      tag: options.tag || undefined,
      message: options.message || undefined,
      changes: options.changes,
      source: '-',
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

  async save(refs: string[]): Promise<Readable> {
    if (!refs.length) throw new InvalidArgument('no image names given to save');
    const stream = await saveArchive(this.store, refs);
    for (const ref of refs) this.events.publish('image', 'save', this.store.resolve(ref), { name: ref });
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
