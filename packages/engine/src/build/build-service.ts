import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type BuildContext, openBuildContext, type RecentIndexes, runBuild } from '@berth/builder';
import {
  type BuildCachePruneReport,
  type BuildCacheRecord,
  type BuildRequest,
  type BuildsApi,
  type Filters,
  type ImagesApi,
  InvalidArgument,
  inject,
  injectable,
  isBerthError,
  type Logger,
  LoggerToken,
  token,
} from '@berth/core';
import type { Digest, ImageStore } from '@berth/image';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { untilMs } from '../filters/until-filter.js';
import { ImageServiceToken } from '../images/image-service.js';
import { ImageStoreToken } from '../images/image-store-token.js';
import { type BuildCache, BuildCacheToken, type ListedCacheEntry } from './build-cache.js';
import { BuildWorkerToken, type EngineBuildWorker } from './engine-build-worker.js';
import { RecentIndexesToken } from './recent-indexes-token.js';

/**
 * `POST /build`: the context read from the request (a tar body, a git repository or a
 * URL) into a directory of the build's own under
 * `<data-root>/builder/work/<build>`, then built by @berth/builder's executor through the
 * engine's build worker. The directory goes when the build ends, whatever the outcome;
 * the build worker's recovery empties `builder/work` after a crash.
 */
@injectable()
export class BuildService implements BuildsApi {
  private readonly workRoot: string;

  constructor(
    @inject(BuildWorkerToken) private readonly worker: EngineBuildWorker,
    @inject(BuildCacheToken) private readonly cache: BuildCache,
    @inject(ImageStoreToken) private readonly store: ImageStore,
    @inject(ImageServiceToken) private readonly images: ImagesApi,
    @inject(LoggerToken) private readonly log: Logger,
    @inject(EngineConfigToken) config: ResolvedEngineConfig,
    @inject(RecentIndexesToken) private readonly recentIndexes: RecentIndexes,
  ) {
    this.workRoot = path.join(config.dataRoot, 'builder', 'work');
    this.secretsRoot = path.join(config.execRoot, 'build-secrets');
  }

  /** Where a build's secrets are made into files for its steps: the exec root (a tmpfs where /run is one), never the data root. */
  private readonly secretsRoot: string;

  async build(request: BuildRequest): Promise<{ imageId: string }> {
    await fs.mkdir(this.workRoot, { recursive: true, mode: 0o700 });
    const workDir = await fs.mkdtemp(path.join(this.workRoot, `${randomBytes(4).toString('hex')}-`));
    const secretsDir = path.join(this.secretsRoot, path.basename(workDir));
    try {
      const context = await this.readContext(request, workDir);
      try {
        const epoch = request.buildArgs.SOURCE_DATE_EPOCH;
        const sourceDateEpoch = epoch === undefined ? undefined : Number(epoch);
        if (sourceDateEpoch !== undefined && (!Number.isSafeInteger(sourceDateEpoch) || sourceDateEpoch < 0)) {
          throw new InvalidArgument(`invalid SOURCE_DATE_EPOCH: ${epoch} (seconds since 1970 expected)`);
        }
        const result = await runBuild(
          this.worker,
          context,
          {
            buildArgs: request.buildArgs,
            ...(request.target ? { target: request.target } : {}),
            tags: request.tags,
            labels: request.labels,
            noCache: request.noCache,
            pull: request.pull,
            ...(request.network ? { network: request.network } : {}),
            ...(sourceDateEpoch !== undefined ? { sourceDateEpoch } : {}),
            workDir: path.join(workDir, 'steps'),
            ...(request.secrets && Object.keys(request.secrets).length > 0
              ? { secrets: { values: new Map(Object.entries(request.secrets)), dir: secretsDir } }
              : {}),
            ...(request.signal ? { signal: request.signal } : {}),
          },
          request.output,
        );
        this.log.debug('image built', { id: result.imageId, tags: request.tags.join(',') });
        return result;
      } finally {
        await context.dispose();
      }
    } finally {
      await fs.rm(secretsDir, { recursive: true, force: true });
      await fs.rm(workDir, { recursive: true, force: true });
    }
  }

  async diskUsage(): Promise<BuildCacheRecord[]> {
    return (await this.records()).map((r) => r.record);
  }

  async prune(options: { all?: boolean; keepStorage?: number; filters?: Filters } = {}): Promise<BuildCachePruneReport> {
    const filters = options.filters ?? {};
    for (const key of Object.keys(filters)) if (key !== 'until') throw new InvalidArgument(`invalid filter '${key}'`);
    const until = (filters.until ?? []).map((v) => untilMs(v));
    const records = await this.records();
    let total = records.reduce((sum, r) => sum + r.record.Size, 0);
    const lastUse = (r: BuildCacheRecord) => Date.parse(r.LastUsedAt ?? r.CreatedAt);
    const candidates = records
      .filter(({ record }) => (options.all || !record.Shared) && !until.some((u) => Date.parse(record.CreatedAt) >= u))
      .sort((a, b) => lastUse(a.record) - lastUse(b.record));
    const layerBytes = () => this.store.layers.list().reduce((sum, layer) => sum + layer.size, 0);
    const before = layerBytes();
    const deleted: string[] = [];
    for (const { entry, record } of candidates) {
      if (options.keepStorage !== undefined && total <= options.keepStorage) break;
      await this.cache.remove(entry.id);
      deleted.push(entry.id);
      total -= record.Size;
      // The step's image goes with it when nothing else keeps it (a name, a child, a container, a build).
      const id = entry.image as Digest;
      if (this.store.references(id).length > 0 || this.store.children(id).length > 0) continue;
      await this.images.remove(id).catch((err) => {
        if (!isBerthError(err, 'Conflict') && !isBerthError(err, 'NotFound')) throw err;
      });
    }
    return { CachesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: Math.max(0, before - layerBytes()) };
  }

  /**
   * The cache's entries as `system df` shows them: the size of the layer each step's image
   * added (0 for a config step), and whether an image with a name is built on it (Shared).
   */
  private async records(): Promise<Array<{ entry: ListedCacheEntry; record: BuildCacheRecord }>> {
    const entries = await this.cache.entries();
    // Every image a named image is built on, and the named images themselves.
    const needed = new Set<string>();
    for (const image of await this.store.list()) {
      if (image.repoTags.length === 0 && image.repoDigests.length === 0) continue;
      for (let id: Digest | undefined = image.id; id && !needed.has(id); id = this.store.parentOf(id)) needed.add(id);
    }
    const out: Array<{ entry: ListedCacheEntry; record: BuildCacheRecord }> = [];
    for (const entry of entries) {
      const image = await this.store.find(entry.image);
      if (!image) continue;
      const parentId = this.store.parentOf(image.id);
      const parentLayers = parentId ? ((await this.store.find(parentId))?.diffIds.length ?? 0) : 0;
      const size = image.diffIds.length > parentLayers ? (image.layers.at(-1)?.size ?? 0) : 0;
      const history = image.config.history ?? [];
      out.push({
        entry,
        record: {
          ID: entry.id,
          ...(parentId ? { Parent: parentId } : {}),
          Type: 'regular',
          Description: history.at(-1)?.created_by ?? '',
          InUse: false,
          Shared: needed.has(image.id),
          Size: size,
          CreatedAt: entry.created,
          LastUsedAt: entry.lastUsed ?? null,
          UsageCount: entry.usageCount ?? 0,
        },
      });
    }
    return out;
  }

  /** The build's context (the body's tar, a git checkout or a download), in a directory under `workDir`. */
  private readContext(request: BuildRequest, workDir: string): Promise<BuildContext> {
    if (!request.remote && !request.body) throw new InvalidArgument('a build needs a context: a tar body or remote=');
    return openBuildContext({
      ...(request.remote ? { remote: request.remote } : {}),
      ...(request.dockerfile ? { dockerfile: request.dockerfile } : {}),
      body: request.body ?? [],
      workDir,
      ...(request.signal ? { signal: request.signal } : {}),
      recentIndexes: this.recentIndexes,
    });
  }
}

export const BuildServiceToken = token<BuildsApi>('BuildService');
