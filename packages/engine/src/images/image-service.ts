import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import {
  Conflict,
  type EventBus,
  type Filters,
  type ImageDeleteEntry,
  type ImageHistoryEntry,
  type ImageInspect,
  type ImageSummary,
  type ImagesApi,
  type ImportOptions,
  InvalidArgument,
  type Logger,
  NotFound,
  type StorageDriver,
} from '@berth/core';
import {
  applyLayer,
  type Digest,
  familiarString,
  type ImageRecord,
  ImageStore,
  importRootfs,
  loadArchive,
  parseReference,
  type Reference,
  saveArchive,
  shortId,
} from '@berth/image';
import { mountAll, unmountAll } from '@berth/native';
import type { ContainerRecord } from '../containers/container-record.js';
import type { ImageRunConfig } from '../oci/index.js';

/**
 * Images as the API sees them, on top of `@berth/image`'s stores, plus the bridge to
 * the storage driver: an image's layers become committed snapshots named by chain
 * ID the first time a container needs them. Unpacking goes through the driver's own
 * mounts (prepare → mount → apply the tar → unmount → commit), so whiteouts are
 * applied by deleting through the union view whatever the driver.
 */
export class ImageService implements ImagesApi {
  private store!: ImageStore;
  /** Layers being unpacked, by chain ID, so two creates of one image share the work. */
  private readonly unpacking = new Map<string, Promise<void>>();

  constructor(
    private readonly dataRoot: string,
    private readonly storage: StorageDriver,
    private readonly events: EventBus,
    private readonly log: Logger,
    private readonly usersOf: (imageId: string) => ContainerRecord[],
  ) {}

  async init(): Promise<void> {
    this.store = await ImageStore.open(this.dataRoot);
  }

  async count(): Promise<number> {
    return (await this.store.list()).length;
  }

  /** The image a create names, with its run config; NotFound (404) is what makes the docker CLI offer a pull. */
  async resolveForContainer(ref: string): Promise<{ id: string; config: ImageRunConfig }> {
    const image = await this.store.get(ref);
    return { id: image.id, config: (image.config.config ?? {}) as ImageRunConfig };
  }

  /** Make sure every layer of the image is a committed snapshot; returns the top chain ID (undefined: no layers). */
  async ensureLayers(imageId: string): Promise<string | undefined> {
    const image = await this.store.get(imageId);
    for (let i = 0; i < image.chainIds.length; i++) {
      const chainId = image.chainIds[i];
      let pending = this.unpacking.get(chainId);
      if (!pending) {
        pending = this.unpackLayer(image, i).finally(() => this.unpacking.delete(chainId));
        this.unpacking.set(chainId, pending);
      }
      await pending;
    }
    return image.chainIds.at(-1);
  }

  private async unpackLayer(image: ImageRecord, index: number): Promise<void> {
    const chainId = image.chainIds[index];
    try {
      await this.storage.stat(chainId);
      return;
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
    }
    const key = `extract-${randomBytes(8).toString('hex')}`;
    const target = path.join(this.dataRoot, 'tmp', key);
    const layer = image.layers[index];
    await fs.mkdir(target, { recursive: true, mode: 0o700 });
    let prepared = false;
    try {
      const mounts = await this.storage.prepare(key, index > 0 ? image.chainIds[index - 1] : undefined);
      prepared = true;
      mountAll(mounts, target);
      try {
        await applyLayer(target, await this.store.content.get(layer.digest), { expectedDiffId: layer.diffId });
      } finally {
        unmountAll(target);
      }
      await this.storage.commit(chainId, key);
      prepared = false;
    } catch (err) {
      if (prepared) await this.storage.remove(key).catch(() => undefined);
      throw err;
    } finally {
      await fs.rm(target, { recursive: true, force: true });
    }
  }

  /** The run config of an image by id. */
  async configOf(imageId: string): Promise<ImageRunConfig> {
    return ((await this.store.get(imageId)).config.config ?? {}) as ImageRunConfig;
  }

  async list(options: { all?: boolean; filters?: Filters } = {}): Promise<ImageSummary[]> {
    const filters = options.filters ?? {};
    for (const key of Object.keys(filters)) {
      if (!['reference', 'dangling', 'label', 'before', 'since'].includes(key)) throw new InvalidArgument(`invalid filter '${key}'`);
    }
    const images = (await this.store.list()).filter((image) => this.matches(image, filters));
    images.sort((a, b) => b.created.localeCompare(a.created));
    return images.map((image) => ({
      Id: image.id,
      ParentId: image.parent ?? '',
      RepoTags: image.repoTags.length ? image.repoTags : ['<none>:<none>'],
      RepoDigests: image.repoDigests.length ? image.repoDigests : [],
      Created: Math.floor(Date.parse(image.created) / 1000),
      Size: image.size,
      VirtualSize: image.size,
      SharedSize: -1,
      Labels: image.config.config?.Labels ?? null,
      Containers: -1,
    }));
  }

  private matches(image: ImageRecord, filters: Filters): boolean {
    const any = (key: string, test: (v: string) => boolean) => !filters[key]?.length || filters[key].some(test);
    return (
      any('reference', (pattern) => image.repoTags.some((tag) => referenceMatches(tag, pattern))) &&
      any('dangling', (v) => (v === 'true' || v === '1') === (image.repoTags.length === 0)) &&
      any('label', (v) => {
        const labels = image.config.config?.Labels ?? {};
        const eq = v.indexOf('=');
        return eq < 0 ? v in labels : labels[v.slice(0, eq)] === v.slice(eq + 1);
      })
    );
  }

  async inspect(ref: string): Promise<ImageInspect> {
    const image = await this.store.get(ref);
    const config = image.config;
    return {
      Id: image.id,
      RepoTags: image.repoTags,
      RepoDigests: image.repoDigests,
      Parent: image.parent ?? '',
      Comment: config.history?.at(-1)?.comment ?? '',
      Created: image.created,
      Container: '',
      ContainerConfig: {},
      DockerVersion: '',
      Author: config.author ?? '',
      Config: config.config ?? {},
      Architecture: config.architecture,
      Os: config.os,
      Size: image.size,
      VirtualSize: image.size,
      GraphDriver: { Name: this.storage.name, Data: null },
      RootFS: { Type: 'layers', Layers: image.diffIds },
      Metadata: { LastTagTime: image.lastTagTime ?? '0001-01-01T00:00:00Z' },
    };
  }

  async history(ref: string): Promise<ImageHistoryEntry[]> {
    const image = await this.store.get(ref);
    const history = image.config.history?.length
      ? image.config.history
      : image.layers.map(() => ({ created: image.created, created_by: '', comment: '' }));
    let layer = 0;
    const entries = history.map((h) => {
      const empty = 'empty_layer' in h && h.empty_layer;
      const size = empty ? 0 : (image.layers[layer++]?.size ?? 0);
      return {
        Id: '<missing>',
        Created: Math.floor(Date.parse(h.created ?? image.created) / 1000),
        CreatedBy: h.created_by ?? '',
        Tags: null as string[] | null,
        Size: size,
        Comment: h.comment ?? '',
      };
    });
    entries.reverse();
    if (entries.length) {
      entries[0].Id = image.id;
      entries[0].Tags = image.repoTags.length ? image.repoTags : null;
    }
    return entries;
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
    if (byName && names.length > 1) {
      const { reference } = await this.store.untag(ref);
      this.events.publish('image', 'untag', id, { name: familiar(reference) });
      return [{ Untagged: familiar(reference) }];
    }
    if (!byName && names.length > 1 && !options.force) {
      throw new Conflict(`conflict: unable to delete ${shortId(id)} (must be forced) - image is referenced in multiple repositories`);
    }
    const users = this.usersOf(id);
    const running = users.find((c) => c.state.Running);
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
      // Forced while stopped containers use it: the names go, the image stays for them.
      for (const name of names) {
        await this.store.untag(name);
        this.events.publish('image', 'untag', id, { name });
        out.push({ Untagged: name });
      }
      return out;
    }
    const result = await this.store.delete(id);
    for (const name of result.untagged) {
      this.events.publish('image', 'untag', id, { name });
      out.push({ Untagged: name });
    }
    for (const chainId of [...result.unusedChainIds].reverse()) {
      await this.storage.remove(chainId).catch((err) => {
        if (!(err instanceof NotFound)) this.log.warn('cannot remove a layer snapshot', { chainId, error: String(err) });
      });
    }
    out.push({ Deleted: id });
    for (const layer of result.removedLayers) out.push({ Deleted: layer.diffId });
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
    this.events.publish('image', 'import', result.id, { name: result.reference ? familiar(result.reference) : result.id });
    return result.id;
  }

  async load(tar: Readable): Promise<string[]> {
    const result = await loadArchive(this.store, tar);
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
}

function familiar(reference: Reference): string {
  return familiarString(reference);
}

/** Whether `ref` named the image by its id (or a prefix of it) rather than by a name. */
function isIdLike(ref: string, id: Digest): boolean {
  const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
  return /^[0-9a-f]+$/.test(hex) && id.slice(7).startsWith(hex);
}

/** Docker's `reference` filter: a pattern with `*` wildcards against `name:tag` or `name`. */
function referenceMatches(tag: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('[^/]*')}$`);
  const name = tag.slice(0, tag.lastIndexOf(':'));
  return re.test(tag) || re.test(name);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
