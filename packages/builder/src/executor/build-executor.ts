import { promises as fs } from 'node:fs';
import { type BuildOutput, InvalidArgument } from '@berth/core';
import { resolveInRoot } from '@berth/native';
import type { BuildContext } from '../context/build-context.js';
import { ContentHashCache } from '../context/content-hash.js';
import { isIndexedContext } from '../context/indexed-context.js';
import { type BuildPlan, planBuild, type StageSourceRef } from '../dockerfile/build-plan.js';
import { DockerfileError } from '../dockerfile/errors.js';
import { type ConfigStep, type CopyStep, evaluateStage, type RunStep } from '../dockerfile/evaluate-stage.js';
import type { ImageRuntimeConfig } from '../dockerfile/image-config.js';
import { parseDockerfile } from '../dockerfile/parse-dockerfile.js';
import type { BuildImage, BuildWorker, StepHistory } from '../worker/build-worker.js';
import { RunStepFailed } from '../worker/run-step-failed.js';
import { type FilesSource, resolveFiles, stepCacheKey } from './files-step.js';
import { OrderedOutput } from './ordered-output.js';
import { resolveRunMounts } from './run-mounts.js';

/** What `docker build` asks besides the context (the query of `POST /build`). */
export interface BuildOptions {
  /** `--build-arg K=V`; a value of undefined is `--build-arg K` with K unset in the client. */
  buildArgs?: Record<string, string | undefined>;
  /** `--target`: the stage to build; default the last. */
  target?: string;
  /** `-t`, each given to the final image. */
  tags?: readonly string[];
  /** `--label`: added to the final image by one more step, `LABEL k=v …`. */
  labels?: Readonly<Record<string, string>>;
  /** `--no-cache`: no step is taken from the cache (its results still fill it). */
  noCache?: boolean;
  /** `--pull`: every FROM image is pulled even when present. */
  pull?: boolean;
  /** `--network`: the network of RUN steps that name none. */
  network?: string;
  /** `SOURCE_DATE_EPOCH`, seconds: the creation time of every image the build makes. */
  sourceDateEpoch?: number;
  /** A directory of the build's own for downloads, checkouts and heredoc files (made when missing). */
  workDir: string;
  /** The secrets `RUN --mount=type=secret` shows, by id, and where their files are made for a step (a tmpfs, not the data root). */
  secrets?: { values: ReadonlyMap<string, Buffer>; dir: string };
  /** The client went away: the step running is stopped and undone, and the build fails. */
  signal?: AbortSignal;
}

/** What a build made. */
export interface BuildResult {
  /** `sha256:<hex>` of the final image. */
  imageId: string;
}

/**
 * Build the Dockerfile of `context` through `worker`, streaming what `docker build`
 * shows. The stages the target needs are built, each as soon as the stages it needs are
 * done (independent stages at the same time; their output still in Dockerfile order).
 * Each step is looked up in the layer cache first (its parent image, what the
 * Dockerfile says of it, and for COPY/ADD the digest of its sources' content) and made
 * through the worker on a miss. Every image a step made is retained until the build
 * ends. Throws DockerfileError for a Dockerfile that cannot be built, RunStepFailed for a
 * RUN that failed; nothing of a failed step remains (the worker's contract).
 */
export async function runBuild(
  worker: BuildWorker,
  context: BuildContext,
  options: BuildOptions,
  output: BuildOutput,
): Promise<BuildResult> {
  const dockerfile = parseDockerfile(context.dockerfile.toString('utf8'), { file: context.dockerfilePath });
  const plan = planBuild(dockerfile, {
    ...(options.buildArgs ? { buildArgs: options.buildArgs } : {}),
    ...(options.target ? { target: options.target } : {}),
  });
  const labels = Object.entries(options.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  const totalSteps = plan.totalSteps + (labels.length > 0 ? 1 : 0);
  const build = new Build(worker, context, options, output, plan, totalSteps);
  try {
    // What the parser and the plan noticed (an empty continuation line, a base that looks
    // like a misspelt stage name), before anything runs: Docker prints them first too.
    for (const warning of [...dockerfile.warnings, ...plan.notes]) output.stream(`[WARNING]: ${warning.message}\n`);
    for (const line of plan.globalArgSteps) output.stream(`${renumber(line, totalSteps)}\n`);
    let image = await build.stages();
    if (labels.length > 0) image = await build.labelStep(image, labels);
    if (!image) throw new InvalidArgument('the target stage has no image: nothing was built on scratch');
    output.aux({ ID: image.id });
    for (const warning of plan.warnings) output.stream(`${warning}\n`);
    output.stream(`Successfully built ${shortId(image.id)}\n`);
    for (const tag of options.tags ?? []) {
      await worker.tag(image.id, tag);
      output.stream(`Successfully tagged ${tag}\n`);
    }
    return { imageId: image.id };
  } finally {
    build.release();
  }
}

/** The last stage's image, or null when it is `FROM scratch` with nothing built on it. */
type StageResult = { image: BuildImage | null; config: ImageRuntimeConfig | null };

/** One build's state: the stages' results, the images it retains, its hash cache. */
class Build {
  private readonly results = new Map<number, Promise<StageResult>>();
  private readonly releases: Array<() => void> = [];
  private readonly hashes = new ContentHashCache();
  private readonly ordered: OrderedOutput;
  private readonly created: Date | undefined;
  /** Aborted when the client goes away or a stage fails: the other stages stop too. */
  private readonly stop = new AbortController();
  private readonly signal: AbortSignal;

  constructor(
    private readonly worker: BuildWorker,
    private readonly context: BuildContext,
    private readonly options: BuildOptions,
    private readonly output: BuildOutput,
    private readonly plan: BuildPlan,
    private readonly totalSteps: number,
  ) {
    this.ordered = new OrderedOutput(plan.needed, (text) => output.stream(text));
    this.created = options.sourceDateEpoch === undefined ? undefined : new Date(options.sourceDateEpoch * 1000);
    this.signal = options.signal ? AbortSignal.any([options.signal, this.stop.signal]) : this.stop.signal;
    // A context kept as an index hashed its files as it arrived: COPY's digests need no reading.
    if (isIndexedContext(context)) context.index.seed(this.hashes);
  }

  /** Build every needed stage; resolves with the target's image. */
  async stages(): Promise<BuildImage | null> {
    const all = this.plan.needed.map((index) => this.stage(index));
    // Every stage settles before the build answers, so none is left running after a failure.
    const settled = await Promise.allSettled(all);
    const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed.length > 0) throw (failed.find((f) => !isAbort(f.reason)) ?? failed[0]!).reason;
    return (await this.stage(this.plan.target)).image;
  }

  /** The extra step of `--label`: the labels added to the final image's config. */
  async labelStep(image: BuildImage | null, labels: Array<[string, string]>): Promise<BuildImage> {
    const text = `LABEL ${labels.map(([k, v]) => `${k}=${v}`).join(' ')}`;
    this.output.stream(`Step ${this.totalSteps}/${this.totalSteps} : ${text}\n`);
    const config = structuredClone(image?.config ?? {});
    config.Labels = { ...(config.Labels ?? {}), ...Object.fromEntries(labels) };
    return this.configStep(
      image,
      { config, cacheKey: { label: labels }, createdBy: `/bin/sh -c #(nop)  ${text}` },
      { write: (t) => this.output.stream(t) },
    );
  }

  release(): void {
    for (const release of this.releases.splice(0)) release();
  }

  private stage(index: number): Promise<StageResult> {
    let result = this.results.get(index);
    if (!result) {
      result = this.buildStage(index);
      // The first stage that fails stops the others; the build reports that first failure.
      result.catch(() => this.stop.abort());
      this.results.set(index, result);
      result.catch(() => undefined); // observed by stages()
    }
    return result;
  }

  private async buildStage(index: number): Promise<StageResult> {
    const planned = this.plan.stages[index]!;
    const out = this.ordered.channel(index);
    try {
      // The stages it needs first (its base, COPY --from): their output comes before its own anyway.
      for (const dep of planned.dependsOn) await this.stage(dep);
      let image: BuildImage | null = null;
      let baseConfig: ImageRuntimeConfig | null = null;
      const base = planned.base;
      if (base.kind === 'image') {
        image = await this.worker
          .baseImage(base.ref, {
            pull: this.options.pull === true,
            ...(planned.platform ? { platform: planned.platform } : {}),
            progress: (m) => this.output.progress(m),
            signal: this.signal,
          })
          .catch((err) => {
            throw naming(err, `FROM ${base.ref}`, base.ref);
          });
        this.retain(image.id);
        baseConfig = image.config;
      } else if (base.kind === 'stage') {
        const from = await this.stage(base.stage);
        image = from.image;
        baseConfig = from.config;
      }
      const evaluated = evaluateStage(this.plan, index, { config: baseConfig });
      out.write(`${renumber(evaluated.fromText, this.totalSteps)}\n`);
      out.write(` ---> ${image ? shortId(image.id) : ''}\n`);
      if (evaluated.triggerBanner) out.write(`${evaluated.triggerBanner}\n`);
      let author: string | undefined;
      for (const step of evaluated.steps) {
        this.signal.throwIfAborted();
        if (step.instruction.keyword === 'MAINTAINER') author = evaluated.author;
        const stepOut: StepOut = { write: out.write, ...(author ? { author } : {}) };
        if (step.text) out.write(`${renumber(step.text, this.totalSteps)}\n`);
        try {
          if (step.kind === 'config' && step.instruction.keyword === 'WORKDIR') image = await this.workdirStep(image, step, stepOut);
          else if (step.kind === 'config') image = await this.configStep(image, step, stepOut);
          else if (step.kind === 'run') image = await this.runStep(image, step, stepOut);
          else image = await this.filesStep(image, step, stepOut);
        } catch (err) {
          // An inherited ONBUILD trigger has no line of this Dockerfile.
          if (step.text) locate(err, this.context.dockerfilePath, step.instruction.location.startLine);
          throw err;
        }
      }
      return { image, config: image ? image.config : (evaluated.config ?? null) };
    } finally {
      out.end();
    }
  }

  private async configStep(
    parent: BuildImage | null,
    step: Pick<ConfigStep, 'config' | 'cacheKey' | 'createdBy'>,
    out: StepOut,
  ): Promise<BuildImage> {
    const write = out.write;
    const key = stepCacheKey(parent?.id ?? null, step.cacheKey);
    const hit = await this.fromCache(key, write);
    if (hit) return hit;
    const made = await this.worker.configure({
      parent: parent?.id ?? null,
      imageConfig: step.config,
      history: this.history(step.createdBy, out.author),
    });
    return this.made(key, made, write);
  }

  /**
   * WORKDIR, as the classic builder does it: the directory is made in the image (owned by
   * root, 0755, its missing parents too) as one layer, so a container of the image
   * starts in a directory that exists.
   */
  private async workdirStep(parent: BuildImage | null, step: ConfigStep, out: StepOut): Promise<BuildImage> {
    const write = out.write;
    const key = stepCacheKey(parent?.id ?? null, step.cacheKey);
    const hit = await this.fromCache(key, write);
    if (hit) return hit;
    const dir = step.config.WorkingDir || '/';
    const made = await this.worker.addFiles({
      parent: parent?.id ?? null,
      write: async (root) => {
        // Each component made inside the root (an image's symlink is followed inside it, never out).
        const parts = dir.split('/').filter(Boolean);
        for (let i = 1; i <= parts.length; i++) {
          const host = resolveInRoot(root, `/${parts.slice(0, i).join('/')}`);
          await fs.mkdir(host, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'EEXIST') throw err;
          });
        }
      },
      imageConfig: step.config,
      history: this.history(step.createdBy, out.author),
      signal: this.signal,
    });
    return this.made(key, made, write);
  }

  private async runStep(parent: BuildImage | null, step: RunStep, out: StepOut): Promise<BuildImage> {
    const write = out.write;
    if (!parent || parent.layerCount === 0) {
      throw new InvalidArgument(
        `${step.text.replace(/^Step \d+\/\d+ : /, '')}: the image has no files (FROM scratch): no command can run in it`,
      );
    }
    const mounts = await resolveRunMounts(step, {
      worker: this.worker,
      context: this.context,
      workDir: this.options.workDir,
      hashes: this.hashes,
      imageOf: (ref) => this.imageOf(ref),
      ...(this.options.secrets ? { secrets: this.options.secrets } : {}),
    });
    try {
      const key = stepCacheKey(parent.id, step.cacheKey, mounts.inputs.length > 0 ? mounts.inputs.join('\n') : undefined);
      const hit = await this.fromCache(key, write);
      if (hit) return hit;
      const network = step.network === 'default' ? (this.options.network ?? 'default') : step.network;
      let container = '';
      const made = await mounts.hold(() =>
        this.worker.run({
          parent: parent.id,
          argv: step.argv,
          env: [...step.env, ...mounts.env],
          ...(step.user ? { user: step.user } : {}),
          workingDir: step.workdir,
          network,
          mounts: mounts.mounts,
          imageConfig: step.config,
          history: this.history(step.createdBy, out.author),
          output: (_stream, data) => write(data.toString('utf8')),
          started: (id) => {
            container = id;
            write(` ---> Running in ${id.slice(0, 12)}\n`);
          },
          signal: this.signal,
        }),
      );
      if (container) write(`Removing intermediate container ${container.slice(0, 12)}\n`);
      return this.made(key, made, write);
    } finally {
      await mounts.dispose();
    }
  }

  /** The image a `from=` names: a stage's result (built first) or an image (pulled when missing). */
  private async imageOf(ref: StageSourceRef): Promise<BuildImage> {
    if (ref.kind === 'stage') {
      const image = (await this.stage(ref.stage)).image;
      if (!image) throw new InvalidArgument(`stage ${this.plan.stages[ref.stage]?.name ?? ref.stage} has no files`);
      return image;
    }
    const image = await this.worker
      .baseImage(ref.ref, { pull: false, progress: (m) => this.output.progress(m), signal: this.signal })
      .catch((err) => {
        throw naming(err, `image ${ref.ref} (no stage has that name)`, ref.ref);
      });
    this.retain(image.id);
    return image;
  }

  private async filesStep(parent: BuildImage | null, step: CopyStep, out: StepOut): Promise<BuildImage> {
    const write = out.write;
    const work = { workDir: this.options.workDir, hashes: this.hashes, signal: this.signal };
    const fromContext = async (source: FilesSource) => {
      const files = await resolveFiles(step, source, work);
      try {
        const key = stepCacheKey(parent?.id ?? null, step.cacheKey, files.inputs);
        const hit = await this.fromCache(key, write);
        if (hit) return hit;
        const made = await this.worker.addFiles({
          parent: parent?.id ?? null,
          write: files.write,
          imageConfig: step.config,
          history: this.history(files.createdBy, out.author),
          signal: this.signal,
        });
        return this.made(key, made, write);
      } finally {
        await files.dispose();
      }
    };
    if (!step.from) return fromContext({ kind: 'context', context: this.context });
    const from = step.from;
    const name = from.kind === 'stage' ? `stage ${this.plan.stages[from.stage]?.name ?? from.stage}` : `image ${from.ref}`;
    const source = await this.imageOf(from);
    if (source.layerCount === 0) throw new InvalidArgument(`${step.kind.toUpperCase()} --from: ${name} has no files`);
    return this.worker.readRoot(source.id, (root) => fromContext({ kind: 'root', root, name }));
  }

  private async fromCache(key: string, write: (text: string) => void): Promise<BuildImage | undefined> {
    if (this.options.noCache) return undefined;
    const hit = await this.worker.cached(key);
    if (!hit) return undefined;
    this.retain(hit.id);
    write(' ---> Using cache\n');
    write(` ---> ${shortId(hit.id)}\n`);
    return hit;
  }

  private async made(key: string, image: BuildImage, write: (text: string) => void): Promise<BuildImage> {
    this.retain(image.id);
    await this.worker.remember(key, image.id);
    write(` ---> ${shortId(image.id)}\n`);
    return image;
  }

  private history(createdBy: string, author?: string): StepHistory {
    return { createdBy, ...(this.created ? { created: this.created } : {}), ...(author ? { author } : {}) };
  }

  private retain(id: string): void {
    this.releases.push(this.worker.retain(id));
  }
}

/**
 * Put where a step failed in front of its error's message (`Dockerfile:7: forbidden path
 * outside the build context: ../x`), as the parser's errors say it: the errors of the
 * build's own checks and of the engine (a missing file, a bad --chown, a pull that
 * failed). A failed RUN (its own words, Docker's), a cancelled build and an error that
 * names its line already are left as they are.
 */
function locate(err: unknown, file: string, line: number): void {
  if (!(err instanceof Error) || isAbort(err) || err instanceof RunStepFailed || err instanceof DockerfileError) return;
  if (err.message.startsWith(`${file}:`)) return;
  err.message = `${file}:${line}: ${err.message}`;
}

/** An error of getting an image (a pull) that says which image, when its message does not. */
function naming(err: unknown, what: string, ref: string): unknown {
  if (err instanceof Error && !isAbort(err) && !err.message.includes(ref)) err.message = `${what}: ${err.message}`;
  return err;
}

/** Whether `err` is a stage stopped because another failed (or the client left). */
function isAbort(err: unknown): boolean {
  return (err as { name?: string })?.name === 'AbortError';
}

/** Where a step writes its output, and the image author (MAINTAINER) its image carries. */
interface StepOut {
  write(text: string): void;
  author?: string;
}

/** `Step N/M : …` with M replaced (the `--label` step adds one to the plan's count). */
function renumber(text: string, total: number): string {
  return text.replace(/^Step (\d+)\/\d+ : /, `Step $1/${total} : `);
}

/** The 12 hex digits `docker build` shows of an id. */
function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
