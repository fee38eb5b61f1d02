import type { ProgressMessage } from '@berth/core';
import type { ContainerConfig } from '@berth/image';

/** An image a build step starts from or made: its id and the config the next step inherits. */
export interface BuildImage {
  /** `sha256:<hex>`, the digest of its config blob. */
  readonly id: string;
  /** The `config` of its image config (Env, Cmd, WorkingDir, OnBuild…). */
  readonly config: ContainerConfig;
  /** How many layers it has (0 for an image made only of config steps on `scratch`). */
  readonly layerCount: number;
}

/** The history line a step leaves in the image it makes (`docker history`'s CREATED BY). */
export interface StepHistory {
  /** `/bin/sh -c apt-get update`, `/bin/sh -c #(nop)  ENV A=b`, `COPY file:<hash> in /app`. */
  readonly createdBy: string;
  readonly comment?: string;
  /** The image's `author` (MAINTAINER, from its line on). */
  readonly author?: string;
  /**
   * The image's creation time (default: now). A reproducible build gives SOURCE_DATE_EPOCH:
   * no file of the step's layer then carries a later mtime either.
   */
  readonly created?: Date;
}

/**
 * A filesystem a RUN step's process sees beside its root, never part of the layer it
 * makes (`RUN --mount`, and the scripts of `RUN <<EOF` heredocs with a `#!` line): a
 * host path bound in (a file or directory of the build context or of another stage's
 * root), a tmpfs, or a cache directory the engine keeps between builds under its id.
 * A mount point the step's root did not have is removed again before the commit.
 */
export type RunStepMount =
  | { readonly type: 'bind'; readonly source: string; readonly target: string; readonly readOnly: boolean }
  | { readonly type: 'tmpfs'; readonly target: string; readonly sizeBytes?: number }
  | {
      readonly type: 'cache';
      /** The cache's id (BuildKit's default: the target); the same id is the same directory in every build. */
      readonly id: string;
      readonly target: string;
      readonly readOnly: boolean;
      /** `shared`: used by every step at once; `locked`: one step at a time; `private`: a step that finds it in use gets an empty one of its own. */
      readonly sharing: 'shared' | 'private' | 'locked';
      /** Owner and mode of the cache directory when it is made. */
      readonly uid?: number;
      readonly gid?: number;
      readonly mode?: number;
    };

/** What a RUN step runs, and the image it leaves when the command succeeds. */
export interface RunStepRequest {
  /** The image the step runs on (`BuildImage.id`). */
  readonly parent: string;
  /**
   * The process: its argv (a shell form already wrapped in the stage's SHELL), and the
   * Env, User and WorkingDir it runs with (the stage's config at this line, with the
   * build args a RUN sees added to Env).
   */
  readonly argv: readonly string[];
  readonly env: readonly string[];
  readonly user?: string;
  readonly workingDir?: string;
  /** `RUN --network` / `build --network`: `default` (the engine's default network), `none`, `host`. */
  readonly network?: string;
  /** `RUN --mount`s and heredoc scripts (see RunStepMount). */
  readonly mounts?: readonly RunStepMount[];
  /** The config the new image carries (not the process's: build args are not kept). */
  readonly imageConfig: ContainerConfig;
  readonly history: StepHistory;
  /** The process's stdout and stderr, as they come. */
  readonly output: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  /** Told the step container's id once it exists (` ---> Running in <id>`). */
  readonly started?: (containerId: string) => void;
  /** The build was cancelled (its client went away): the process is killed and the step undone. */
  readonly signal?: AbortSignal;
}

/** A COPY or ADD step: files written on top of the parent, then committed as one layer. */
export interface FilesStepRequest {
  /** The image the files go on; `null` for `scratch` (the layer is then the first). */
  readonly parent: string | null;
  /**
   * Writes the files. `root` is the host path of the new filesystem's root, mounted
   * read-write, with the parent's content in it: resolve every destination inside it
   * (openat2 RESOLVE_IN_ROOT), never by following a symlink out. It resolves when done.
   */
  readonly write: (root: string) => Promise<void>;
  readonly imageConfig: ContainerConfig;
  readonly history: StepHistory;
  readonly signal?: AbortSignal;
}

/** A step that changes only the config (ENV, CMD, LABEL, …): no layer, `empty_layer` history. */
export interface ConfigStepRequest {
  /** `null` for `scratch`. */
  readonly parent: string | null;
  readonly imageConfig: ContainerConfig;
  readonly history: StepHistory;
}

/**
 * What the build executor asks of the engine. The builder never runs a process or
 * mounts anything itself: the engine implements this with its own services, so a RUN
 * step gets the same runtime, storage driver, network and security defaults as
 * `docker run`.
 *
 * Lifecycle of a step, whatever its kind:
 * 1. The executor calls `run`, `addFiles` or `configure` with the parent image and the
 *    config the new image carries. The engine makes a container (RUN, and COPY/ADD on an
 *    image with layers) or a scratch directory (COPY/ADD on `scratch`), never visible as a
 *    user's container beyond the step.
 * 2. On success it commits what changed as one layer (none for `configure`) and returns
 *    the new image: untagged, its parent recorded, kept as the next step's parent and as a
 *    layer-cache entry. The step's container and mounts are gone before it resolves.
 * 3. On failure (a non-zero exit: `RunStepFailed` with the exit code; a cancelled build;
 *    an engine error) nothing of the step remains: no container, mount, snapshot or image.
 * 4. If berthd dies in the middle, its next start removes the step's container (running
 *    or not) before it serves anything; images a step committed before the crash stay,
 *    as complete untagged images.
 *
 * `baseImage` resolves a FROM (pulling it when missing or asked to); `tag` names the
 * final image. Every method may run concurrently with others (independent stages build
 * at the same time).
 */
export interface BuildWorker {
  /** The image `FROM <ref>` names: the local one, or pulled when absent or when `pull` is set. */
  baseImage(
    ref: string,
    options: {
      pull: boolean;
      /** `FROM --platform=os/arch[/variant]`: the entry of a manifest list to pull (default: the host's). */
      platform?: string;
      progress?: (message: ProgressMessage) => void;
      signal?: AbortSignal;
    },
  ): Promise<BuildImage>;
  /** An image by id (a cache hit, a stage's result). */
  image(id: string): Promise<BuildImage>;
  run(request: RunStepRequest): Promise<BuildImage>;
  addFiles(request: FilesStepRequest): Promise<BuildImage>;
  configure(request: ConfigStepRequest): Promise<BuildImage>;
  /**
   * Run `fn` on the root filesystem of an image (a snapshot of it: nothing written there
   * reaches the image), gone when `fn` settles; `COPY --from=<stage|image>` reads its
   * sources there. `root` is a host path; resolve paths inside it as if it were `/`.
   */
  readRoot<T>(imageId: string, fn: (root: string) => Promise<T>): Promise<T>;
  /** Give the final image a name (`-t`); the name moves from any image that had it. */
  tag(imageId: string, reference: string): Promise<void>;
  /**
   * The layer cache. `cached(key)` is the image a step with this key made before, if it
   * still exists (`---> Using cache`); `remember(key, imageId)` records a step's image.
   * The key is the executor's (its parent, its instruction, the digest of its inputs);
   * the engine keeps entries across restarts, until `builder prune`.
   */
  cached(key: string): Promise<BuildImage | undefined>;
  remember(key: string, imageId: string): Promise<void>;
  /**
   * Keep an image from removal (`rmi`, `image prune`) until the returned release is
   * called: the executor retains the image of every step until its build ends, so the
   * next step, or a stage that copies from it, still finds it. In memory only.
   */
  retain(imageId: string): () => void;
}
