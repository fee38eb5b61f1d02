import {
  type Filters,
  type ImageHistoryEntry,
  type ImageInspect,
  type ImageSummary,
  InvalidArgument,
  inject,
  injectable,
  type StorageDriver,
  StorageDriverToken,
  token,
} from '@berth/core';
import type { ImageRecord, ImageStore } from '@berth/image';
import { matchesLabel } from '../filters/label-filter.js';
import type { ImageRunConfig } from '../oci/index.js';
import { ImageStoreToken } from './image-store-token.js';

/**
 * Read-only questions about images: the answers of `docker images`, `inspect` and
 * `history`, and what a container's create needs (an image's id and run config).
 * Owns nothing; reads the image store.
 */
@injectable()
export class ImageQueries {
  constructor(
    @inject(ImageStoreToken) private readonly store: ImageStore,
    @inject(StorageDriverToken) private readonly storage: StorageDriver,
  ) {}

  async count(): Promise<number> {
    return (await this.store.list()).length;
  }

  /** The image a create names, with its run config; NotFound (404) is what makes the docker CLI offer a pull. */
  async resolveForContainer(ref: string): Promise<{ id: string; config: ImageRunConfig }> {
    const image = await this.store.get(ref);
    return { id: image.id, config: (image.config.config ?? {}) as ImageRunConfig };
  }

  async list(options: { all?: boolean; filters?: Filters } = {}): Promise<ImageSummary[]> {
    const filters = options.filters ?? {};
    for (const key of Object.keys(filters)) {
      if (!['reference', 'dangling', 'label', 'before', 'since'].includes(key)) throw new InvalidArgument(`invalid filter '${key}'`);
    }
    const all = await this.store.list();
    // Images other images were built on (a build's steps, a commit's parent).
    const parents = new Set(all.flatMap((image) => (image.parent ? [image.parent] : [])));
    // Without `-a`, as dockerd: a build's intermediate images (no name, a child) are not listed.
    const intermediate = (image: ImageRecord) => image.repoTags.length === 0 && image.repoDigests.length === 0 && parents.has(image.id);
    const images = all.filter((image) => (options.all || !intermediate(image)) && matches(image, filters, parents));
    images.sort((a, b) => b.created.localeCompare(a.created));
    return images.map((image) => {
      // With a reference filter dockerd answers only the names that match it (`docker
      // images busybox` lists busybox's tags, not the other names of the same image); the
      // image itself is listed because one of its names matched (`matches`).
      const patterns = filters.reference?.length ? filters.reference : undefined;
      const named = (names: string[]) => (patterns ? names.filter((n) => patterns.some((p) => referenceMatches(n, p))) : names);
      const repoTags = named(image.repoTags);
      const repoDigests = named(image.repoDigests);
      return {
        Id: image.id,
        ParentId: image.parent ?? '',
        RepoTags: repoTags.length ? repoTags : repoDigests.length ? [] : ['<none>:<none>'],
        // An image with neither names nor digests is shown as dockerd 20.10 shows it: with both
        // placeholders. With `<none>:<none>` alone the docker CLI leaves it out of `images -a`.
        RepoDigests: repoDigests.length ? repoDigests : repoTags.length ? [] : ['<none>@<none>'],
        Created: Math.floor(Date.parse(image.created) / 1000),
        Size: image.size,
        VirtualSize: image.size,
        SharedSize: -1,
        Labels: image.config.config?.Labels ?? null,
        Containers: -1,
      };
    });
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
}

export const ImageQueriesToken = token<ImageQueries>('ImageQueries');

/**
 * Whether `image` passes the list's filters. Dangling, as dockerd has it: no tag and no
 * image built on it (an intermediate image of a build is not dangling: its child is what
 * keeps it).
 */
function matches(image: ImageRecord, filters: Filters, parents: ReadonlySet<string>): boolean {
  const any = (key: string, test: (v: string) => boolean) => !filters[key]?.length || filters[key].some(test);
  const dangling = image.repoTags.length === 0 && !parents.has(image.id);
  return (
    any('reference', (pattern) => [...image.repoTags, ...image.repoDigests].some((ref) => referenceMatches(ref, pattern))) &&
    any('dangling', (v) => (v === 'true' || v === '1') === dangling) &&
    any('label', (v) => matchesLabel(image.config.config?.Labels, v))
  );
}

/** Docker's `reference` filter: a pattern with `*` wildcards against `name:tag` or `name`. */
function referenceMatches(reference: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('[^/]*')}$`);
  // `name:tag` or `name@digest`: the pattern matches the whole reference or its name.
  const at = reference.indexOf('@');
  const name = at >= 0 ? reference.slice(0, at) : reference.slice(0, reference.lastIndexOf(':'));
  return re.test(reference) || re.test(name);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
