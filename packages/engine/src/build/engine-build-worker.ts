import { closeSync, promises as fs, lstatSync, mkdirSync, rmdirSync, unlinkSync } from 'node:fs';
import * as path from 'node:path';
import type {
  BuildImage,
  BuildWorker,
  ConfigStepRequest,
  FilesStepRequest,
  RunStepMount,
  RunStepRequest,
  StepHistory,
} from '@berth/builder';
import { RunStepFailed } from '@berth/builder';
import {
  type ContainerCreateBody,
  type ContainersApi,
  type ImagesApi,
  inject,
  injectable,
  isBerthError,
  type Logger,
  LoggerToken,
  type ProgressMessage,
  token,
} from '@berth/core';
import { commitImage, configureImage, type ImageStore, type TarWriteEntry, writeTar } from '@berth/image';
import { AT, O_PATH, openAt, resolveInRoot } from '@berth/native';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { ContainerServiceToken } from '../containers/container-service.js';
import { type ImageHolds, ImageHoldsToken } from '../images/image-holds.js';
import { ImageServiceToken } from '../images/image-service.js';
import { ImageStoreToken } from '../images/image-store-token.js';
import { type ContainerRoots, ContainerRootsToken } from '../rootfs/container-roots.js';
import { type SnapshotDiffer, SnapshotDifferToken } from '../rootfs/snapshot-differ.js';
import { changeEntries, treeEntries } from '../rootfs/tree-tar.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { type BuildCache, BuildCacheToken } from './build-cache.js';
import { type CacheMounts, CacheMountsToken } from './cache-mounts.js';

/**
 * The label every build step's container carries: the engine's next start removes such a
 * container, whatever its state, because the build it belonged to died with the engine
 * that ran it.
 */
export const BUILD_STEP_LABEL = 'io.berth.build.step';

/**
 * The engine's side of a Dockerfile build (`BuildWorker`, whose doc comment is the
 * contract). A RUN step is an ordinary container made through the container service
 * (so it gets the runtime, storage, network and security defaults of `docker run`),
 * attached before it starts, waited for, committed with the config the builder gives
 * and removed; a COPY/ADD step is a container that never starts, whose mounted root the
 * builder writes into; a config step makes no container at all. Step containers carry
 * `BUILD_STEP_LABEL`, so `recover` finds what a crash left; a COPY onto `scratch` writes
 * into a directory under `<data-root>/builder/scratch`, emptied by `recover` too. The
 * layer cache is `BuildCache`'s; `retain` is an `ImageHolds` build hold.
 */
@injectable()
export class EngineBuildWorker implements BuildWorker {
  private readonly scratchDir: string;
  private readonly secretsRoot: string;

  constructor(
    @inject(ContainerServiceToken) private readonly containers: ContainersApi,
    @inject(ImageServiceToken) private readonly images: ImagesApi,
    @inject(ImageStoreToken) private readonly store: ImageStore,
    @inject(ContainerStoreToken) private readonly records: ContainerStore,
    @inject(ContainerRootsToken) private readonly roots: ContainerRoots,
    @inject(SnapshotDifferToken) private readonly differ: SnapshotDiffer,
    @inject(ImageHoldsToken) private readonly holds: ImageHolds,
    @inject(BuildCacheToken) private readonly cache: BuildCache,
    @inject(CacheMountsToken) private readonly cacheMounts: CacheMounts,
    @inject(LoggerToken) private readonly log: Logger,
    @inject(EngineConfigToken) config: ResolvedEngineConfig,
  ) {
    this.scratchDir = path.join(config.dataRoot, 'builder', 'scratch');
    this.secretsRoot = path.join(config.execRoot, 'build-secrets');
  }

  /**
   * At engine start, before anything is served: the step containers and scratch
   * directories of builds the last engine was running when it died.
   */
  async recover(): Promise<void> {
    for (const record of this.records.all()) {
      if (record.config.Labels?.[BUILD_STEP_LABEL] === undefined) continue;
      this.log.warn('removing the container of an interrupted build step', { id: record.id });
      await this.removeStep(record.id);
    }
    await fs.rm(this.scratchDir, { recursive: true, force: true });
    await this.cacheMounts.recover();
    // The contexts and downloads of builds that were running (BuildService's work directories), and their secrets' files.
    await fs.rm(path.join(path.dirname(this.scratchDir), 'work'), { recursive: true, force: true });
    await fs.rm(this.secretsRoot, { recursive: true, force: true });
  }

  async baseImage(
    ref: string,
    options: { pull: boolean; platform?: string; progress?: (message: ProgressMessage) => void; signal?: AbortSignal },
  ): Promise<BuildImage> {
    const local = await this.store.find(ref);
    if (local && !options.pull) return this.image(local.id);
    await this.images.pull(ref, {
      ...(options.platform ? { platform: options.platform } : {}),
      progress: options.progress ?? (() => undefined),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return this.image(this.store.resolve(ref));
  }

  async image(id: string): Promise<BuildImage> {
    const record = await this.store.get(id);
    return { id: record.id, config: structuredClone(record.config.config ?? {}), layerCount: record.diffIds.length };
  }

  async run(request: RunStepRequest): Promise<BuildImage> {
    request.signal?.throwIfAborted();
    const caches: Array<{ release(): void }> = [];
    try {
      const mounts = await this.mountsOf(request.mounts ?? [], caches);
      const id = await this.createStep(request.parent, {
        Cmd: [...request.argv],
        Env: [...request.env],
        ...(request.user ? { User: request.user } : {}),
        ...(request.workingDir ? { WorkingDir: request.workingDir } : {}),
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: { NetworkMode: request.network ?? 'default', ...(mounts.length > 0 ? { Mounts: mounts } : {}) },
      });
      try {
        // Mount points the runtime will make in the root are not the step's work: noted now, removed before the commit.
        const madePoints =
          mounts.length > 0
            ? await this.missingMountPoints(
                id,
                mounts.map((m) => m.Target),
              )
            : [];
        request.started?.(id);
        const session = await this.containers.attach(id, { stdout: true, stderr: true, stream: true });
        session.onOutput(request.output);
        const exited = this.containers.wait(id, 'next-exit');
        const cancel = () => void this.containers.kill(id).catch(() => undefined);
        request.signal?.addEventListener('abort', cancel, { once: true });
        try {
          // Cancelled while the container was made: the listener came too late to hear it.
          request.signal?.throwIfAborted();
          await this.containers.start(id);
          const { StatusCode } = await exited;
          await session.ended;
          request.signal?.throwIfAborted();
          if (StatusCode !== 0) throw new RunStepFailed(request.argv.join(' '), StatusCode);
        } finally {
          request.signal?.removeEventListener('abort', cancel);
        }
        if (madePoints.length > 0) await this.removeMountPoints(id, madePoints);
        return await this.commit(id, request);
      } finally {
        await this.removeStep(id);
      }
    } finally {
      for (const cache of caches) cache.release();
    }
  }

  /** A step's mounts as the create request's `HostConfig.Mounts`; cache directories acquired into `caches`. */
  private async mountsOf(mounts: readonly RunStepMount[], caches: Array<{ release(): void }>): Promise<MountRequest[]> {
    const out: MountRequest[] = [];
    for (const m of mounts) {
      if (m.type === 'bind') out.push({ Type: 'bind', Source: m.source, Target: m.target, ReadOnly: m.readOnly });
      else if (m.type === 'tmpfs')
        out.push({ Type: 'tmpfs', Target: m.target, ...(m.sizeBytes ? { TmpfsOptions: { SizeBytes: m.sizeBytes } } : {}) });
      else {
        const cache = await this.cacheMounts.acquire(m);
        caches.push(cache);
        out.push({ Type: 'bind', Source: cache.dir, Target: m.target, ReadOnly: m.readOnly });
      }
    }
    return out;
  }

  /**
   * For each mount target, the outermost path of it the step's root does not have yet
   * (the runtime makes it for the mount), deepest targets first.
   */
  private async missingMountPoints(id: string, targets: string[]): Promise<string[][]> {
    return this.roots.withRoot(this.records.get(id), false, async (root) =>
      targets.map((target) => {
        const parts = path.posix.normalize(`/${target}`).split('/').filter(Boolean);
        const made: string[] = [];
        for (let i = 1; i <= parts.length; i++) {
          const p = `/${parts.slice(0, i).join('/')}`;
          if (made.length > 0 || !existsInRoot(root.hostPath, p)) made.push(p);
        }
        return made;
      }),
    );
  }

  /** Remove the mount points the runtime made (emptied when the mounts went), innermost first; one the step filled stays. */
  private async removeMountPoints(id: string, made: string[][]): Promise<void> {
    await this.roots.withRoot(this.records.get(id), true, async (root) => {
      for (const paths of made) {
        for (const p of [...paths].reverse()) {
          try {
            const host = resolveInRoot(root.hostPath, p);
            const st = lstatSync(host);
            if (st.isDirectory()) rmdirSync(host);
            else if (st.isFile() && st.size === 0) unlinkSync(host);
          } catch {
            break; // not empty (the step wrote there), or gone: the rest above it stays too
          }
        }
      }
    });
  }

  async addFiles(request: FilesStepRequest): Promise<BuildImage> {
    request.signal?.throwIfAborted();
    if (request.parent === null) return this.addFilesOnScratch(request);
    const id = await this.createStep(request.parent, { Cmd: ['/bin/sh', '-c', '#(nop) COPY'] });
    try {
      const record = this.records.get(id);
      await this.roots.withRoot(record, true, (root) => request.write(root.hostPath));
      request.signal?.throwIfAborted();
      return await this.commit(id, request);
    } finally {
      await this.removeStep(id);
    }
  }

  async configure(request: ConfigStepRequest): Promise<BuildImage> {
    const id = await configureImage(this.store, {
      ...(request.parent === null ? {} : { parent: request.parent as `sha256:${string}` }),
      config: request.imageConfig,
      ...historyOptions(request.history),
    });
    return this.image(id);
  }

  async readRoot<T>(imageId: string, fn: (root: string) => Promise<T>): Promise<T> {
    const id = await this.createStep(imageId, { Cmd: ['/bin/sh', '-c', '#(nop) COPY --from'] });
    try {
      return await this.roots.withRoot(this.records.get(id), false, (root) => fn(root.hostPath));
    } finally {
      await this.removeStep(id);
    }
  }

  async tag(imageId: string, reference: string): Promise<void> {
    await this.images.tag(imageId, reference);
  }

  async cached(key: string): Promise<BuildImage | undefined> {
    const id = await this.cache.lookup(key);
    return id === undefined ? undefined : this.image(id);
  }

  remember(key: string, imageId: string): Promise<void> {
    return this.cache.record(key, imageId);
  }

  retain(imageId: string): () => void {
    return this.holds.holdForBuild(imageId);
  }

  /**
   * A step's container on `parent`, created (its root mounted) and not started. No
   * health check runs in it, and nothing restarts it.
   */
  private async createStep(parent: string, body: ContainerCreateBody): Promise<string> {
    const { HostConfig, ...config } = body;
    const { Id } = await this.containers.create({
      ...config,
      Image: parent,
      Entrypoint: [],
      Labels: { [BUILD_STEP_LABEL]: 'true' },
      Healthcheck: { Test: ['NONE'] },
      HostConfig: { ...HostConfig, RestartPolicy: { Name: 'no' } },
    });
    return Id;
  }

  /** The step's changes as one layer on its image, with the builder's config and history line. */
  private async commit(id: string, request: RunStepRequest | FilesStepRequest): Promise<BuildImage> {
    const record = this.records.get(id);
    const result = await this.roots.withRoot(record, false, async (root) => {
      const changes = await this.differ.changes(record.id);
      return commitImage(this.store, {
        parent: record.imageId as `sha256:${string}`,
        layer: writeTar(clampMtimes(changeEntries(root.fd, changes), request.history.created)),
        config: request.imageConfig,
        ...historyOptions(request.history),
      });
    });
    return this.image(result.id);
  }

  /** A first layer: the files written into an empty directory, all of it the layer. */
  private async addFilesOnScratch(request: FilesStepRequest): Promise<BuildImage> {
    mkdirSync(this.scratchDir, { recursive: true, mode: 0o700 });
    const dir = await fs.mkdtemp(path.join(this.scratchDir, 'step-'));
    try {
      await request.write(dir);
      request.signal?.throwIfAborted();
      const fd = openAt(AT.FDCWD, dir, O_PATH);
      try {
        const result = await commitImage(this.store, {
          layer: writeTar(clampMtimes(treeEntries(fd, '.', ''), request.history.created)),
          config: request.imageConfig,
          ...historyOptions(request.history),
        });
        return this.image(result.id);
      } finally {
        closeSync(fd);
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  /** Remove a step's container and its anonymous volumes; one already gone is fine. */
  private async removeStep(id: string): Promise<void> {
    await this.containers.remove(id, { force: true, volumes: true }).catch((err) => {
      if (!isBerthError(err, 'NotFound')) this.log.error('cannot remove a build step container', { id, error: String(err) });
    });
  }
}

/**
 * A layer's entries with no mtime later than `created` (a reproducible build's
 * SOURCE_DATE_EPOCH): the files a step wrote now carry that time, so the same build
 * gives the same layer bytes whenever it runs. Without `created`, the entries as they are.
 */
async function* clampMtimes(entries: AsyncIterable<TarWriteEntry>, created: Date | undefined): AsyncGenerator<TarWriteEntry> {
  for await (const entry of entries) {
    if (created && entry.mtime && entry.mtime > created) yield { ...entry, mtime: created };
    else yield entry;
  }
}

/** A step's history line as `commitImage` and `configureImage` take it (only the fields it has). */
function historyOptions(history: StepHistory): { createdBy: string; comment?: string; author?: string; created?: Date } {
  return {
    createdBy: history.createdBy,
    ...(history.comment ? { comment: history.comment } : {}),
    ...(history.author ? { author: history.author } : {}),
    ...(history.created ? { created: history.created } : {}),
  };
}

/** One entry of a create request's `HostConfig.Mounts`, as a build step uses them. */
type MountRequest =
  | { Type: 'bind'; Source: string; Target: string; ReadOnly: boolean }
  | { Type: 'tmpfs'; Target: string; TmpfsOptions?: { SizeBytes: number } };

/** Whether `p` exists inside `root` (resolved as if root were `/`, the last component not followed). */
function existsInRoot(root: string, p: string): boolean {
  try {
    const parent = resolveInRoot(root, path.posix.dirname(p));
    lstatSync(path.join(parent, path.posix.basename(p)));
    return true;
  } catch {
    return false;
  }
}

export const BuildWorkerToken = token<EngineBuildWorker>('BuildWorker');
