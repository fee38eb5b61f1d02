import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type BuildContext, openBuildContext, runBuild } from '@berth/builder';
import { type BuildRequest, type BuildsApi, InvalidArgument, inject, injectable, type Logger, LoggerToken, token } from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { BuildWorkerToken, type EngineBuildWorker } from './engine-build-worker.js';

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
    @inject(LoggerToken) private readonly log: Logger,
    @inject(EngineConfigToken) config: ResolvedEngineConfig,
  ) {
    this.workRoot = path.join(config.dataRoot, 'builder', 'work');
  }

  async build(request: BuildRequest): Promise<{ imageId: string }> {
    await fs.mkdir(this.workRoot, { recursive: true, mode: 0o700 });
    const workDir = await fs.mkdtemp(path.join(this.workRoot, `${randomBytes(4).toString('hex')}-`));
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
      await fs.rm(workDir, { recursive: true, force: true });
    }
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
    });
  }
}

export const BuildServiceToken = token<BuildsApi>('BuildService');
