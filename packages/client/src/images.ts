import type { Readable } from 'node:stream';
import type {
  BuildCachePruneReport,
  Filters,
  ImageDeleteEntry,
  ImageHistoryEntry,
  ImageInspect,
  ImageSummary,
  ImagesPruneReport,
} from '@berth/core';
import { type JsonMessage, readJsonLines } from './json-lines.js';
import { encodeFilters, imagePath } from './query.js';
import type { Transport } from './transport.js';

export interface ListImagesOptions {
  all?: boolean;
  /** e.g. `{ reference: ['busybox'], dangling: ['true'] }` */
  filters?: Filters;
  digests?: boolean;
}

export interface ImportRequest {
  /** `repo` or `repo:tag` to name the new image (the CLI sends `repo:tag` here). */
  repo?: string;
  tag?: string;
  /** Commit message of the new image. */
  message?: string;
  /** Dockerfile instructions applied to the config, e.g. `ENV A=1`, `CMD ["sh"]`. */
  changes?: string[];
  /** Called with each progress message. */
  onProgress?: (message: JsonMessage) => void;
}

/** What `images.build` sends besides the context: `POST /build`'s query. */
export interface BuildRequestOptions {
  /** `-t`, each a name for the built image. */
  tags?: string[];
  /** The Dockerfile's path inside the context (default `Dockerfile`). */
  dockerfile?: string;
  /** `--build-arg`; undefined: the variable named, unset. */
  buildArgs?: Record<string, string | undefined>;
  labels?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  pull?: boolean;
  /** `--network` for RUN. */
  network?: string;
  /** Only the image id is answered. */
  quiet?: boolean;
  /** A git repository or URL as the context instead of a body. */
  remote?: string;
  /** `--secret`: what `RUN --mount=type=secret,id=<id>` shows, by id (sent in the `X-Berth-Build-Secrets` header). */
  secrets?: Record<string, Buffer>;
  onProgress?: (message: JsonMessage) => void;
  signal?: AbortSignal;
}

/** `/images/…` endpoints. */
export class ImagesClient {
  constructor(private readonly http: Transport) {}

  list(options: ListImagesOptions = {}): Promise<ImageSummary[]> {
    return this.http.json('GET', '/images/json', {
      query: { all: options.all, digests: options.digests, filters: encodeFilters(options.filters) },
    });
  }

  inspect(ref: string): Promise<ImageInspect> {
    return this.http.json('GET', `/images/${imagePath(ref)}/json`);
  }

  history(ref: string): Promise<ImageHistoryEntry[]> {
    return this.http.json('GET', `/images/${imagePath(ref)}/history`);
  }

  /** Names image `ref` `repo:tag` (tag `latest` when not given, as the docker CLI sends). */
  tag(ref: string, repo: string, tag?: string): Promise<void> {
    return this.http.call('POST', `/images/${imagePath(ref)}/tag`, { query: { repo, tag: tag || 'latest' } });
  }

  remove(ref: string, options: { force?: boolean; noprune?: boolean } = {}): Promise<ImageDeleteEntry[]> {
    return this.http.json('DELETE', `/images/${imagePath(ref)}`, { query: { force: options.force, noprune: options.noprune } });
  }

  /**
   * Imports a rootfs tarball as a one-layer image (`POST /images/create?fromSrc=-`), or
   * has the daemon fetch it when `source` is a URL. Resolves with the new image's id,
   * which the daemon reports as the last `status`.
   */
  async import(source: Readable | string, options: ImportRequest = {}): Promise<string> {
    const fromUrl = typeof source === 'string';
    const res = await this.http.request('POST', '/images/create', {
      query: {
        fromSrc: fromUrl ? source : '-',
        repo: options.repo,
        tag: options.tag,
        message: options.message,
        changes: options.changes,
      },
      body: fromUrl ? undefined : source,
    });
    const messages = await readJsonLines(res, 'POST /images/create', options.onProgress);
    const last = [...messages].reverse().find((m) => typeof m.status === 'string' && m.status.trim());
    return last?.status?.trim() ?? '';
  }

  /**
   * Loads a docker-archive (or OCI layout) tarball. Resolves with the daemon's messages
   * (`{"stream":"Loaded image: busybox:latest\n"}` ...).
   */
  async load(tar: Readable, options: { quiet?: boolean; onProgress?: (message: JsonMessage) => void } = {}): Promise<JsonMessage[]> {
    const res = await this.http.request('POST', '/images/load', { query: { quiet: options.quiet }, body: tar });
    return readJsonLines(res, 'POST /images/load', options.onProgress);
  }

  /**
   * Pulls `image` (`name`, `name:tag`, `name@digest`) from its registry; `auth` is the
   * `X-Registry-Auth` value (base64url JSON AuthConfig). Resolves with the daemon's
   * messages; an in-band error rejects.
   */
  async pull(
    image: string,
    options: { platform?: string; allTags?: boolean; auth?: string; onProgress?: (message: JsonMessage) => void } = {},
  ): Promise<JsonMessage[]> {
    const at = image.indexOf('@');
    const slash = image.lastIndexOf('/');
    const colon = image.lastIndexOf(':');
    let fromImage = image;
    let tag: string | undefined;
    if (at >= 0) {
      fromImage = image.slice(0, at);
      tag = image.slice(at + 1);
    } else if (colon > slash) {
      fromImage = image.slice(0, colon);
      tag = image.slice(colon + 1);
    } else if (!options.allTags) tag = 'latest';
    const res = await this.http.request('POST', '/images/create', {
      query: { fromImage, tag, platform: options.platform },
      headers: options.auth ? { 'X-Registry-Auth': options.auth } : undefined,
    });
    return readJsonLines(res, 'POST /images/create', options.onProgress);
  }

  /** Pushes `name[:tag]` to its registry (see `pull` for `auth`). */
  async push(image: string, options: { auth?: string; onProgress?: (message: JsonMessage) => void } = {}): Promise<JsonMessage[]> {
    const slash = image.lastIndexOf('/');
    const colon = image.lastIndexOf(':');
    const name = colon > slash ? image.slice(0, colon) : image;
    const tag = colon > slash ? image.slice(colon + 1) : undefined;
    const res = await this.http.request('POST', `/images/${name}/push`, {
      query: { tag },
      headers: options.auth ? { 'X-Registry-Auth': options.auth } : undefined,
    });
    return readJsonLines(res, `POST /images/${name}/push`, options.onProgress);
  }

  /**
   * `docker build` with the classic builder (`POST /build?version=1`): `context` is a tar
   * of the context (or a Dockerfile alone); none with `remote`. Resolves with the built
   * image's id (from `aux.ID`, or the quiet answer); a failed step rejects with an
   * ApiError whose `code` is its exit code.
   */
  async build(context: Readable | undefined, options: BuildRequestOptions = {}): Promise<string> {
    const buildArgs =
      options.buildArgs && Object.keys(options.buildArgs).length > 0
        ? JSON.stringify(options.buildArgs, (_k, v) => (v === undefined ? null : v))
        : undefined;
    const labels = options.labels && Object.keys(options.labels).length > 0 ? JSON.stringify(options.labels) : undefined;
    const res = await this.http.request('POST', '/build', {
      query: {
        t: options.tags,
        dockerfile: options.dockerfile,
        buildargs: buildArgs,
        labels,
        target: options.target,
        nocache: options.noCache,
        pull: options.pull,
        networkmode: options.network,
        q: options.quiet,
        remote: options.remote,
        rm: true,
        version: '1',
      },
      body: context,
      ...(options.secrets && Object.keys(options.secrets).length > 0
        ? {
            headers: {
              'X-Berth-Build-Secrets': Buffer.from(
                JSON.stringify(Object.fromEntries(Object.entries(options.secrets).map(([k, v]) => [k, v.toString('base64')]))),
              ).toString('base64'),
            },
          }
        : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    let id = '';
    await readJsonLines(res, 'POST /build', (m) => {
      const aux = m.aux?.ID;
      if (typeof aux === 'string') id = aux;
      else if (options.quiet && m.stream?.startsWith('sha256:')) id = m.stream.trim();
      options.onProgress?.(m);
    });
    return id;
  }

  /** `docker builder prune`: `all` (-a), `keepStorage` bytes, filters (`until`). */
  pruneBuildCache(options: { all?: boolean; keepStorage?: number; filters?: Filters } = {}): Promise<BuildCachePruneReport> {
    return this.http.json('POST', '/build/prune', {
      query: { all: options.all, 'keep-storage': options.keepStorage, filters: encodeFilters(options.filters) },
    });
  }

  /** `docker image prune`: `dangling: ['false']` is `-a`; also `until`, `label`, `label!`. */
  prune(filters?: Filters): Promise<ImagesPruneReport> {
    return this.http.json('POST', '/images/prune', { query: { filters: encodeFilters(filters) } });
  }

  /** A docker-archive of the named images (`format: 'oci'`: an OCI image layout that is one too), as a stream to read to its end. */
  async save(names: string[], options: { format?: 'docker' | 'oci' } = {}): Promise<Readable> {
    return this.http.request('GET', '/images/get', { query: { names, format: options.format } });
  }
}
