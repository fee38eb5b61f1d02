import type { Readable } from 'node:stream';
import type { EventBus } from '../events.js';
import type {
  BuildCachePruneReport,
  BuildCacheRecord,
  ContainerCreateBody,
  ContainerInspect,
  ContainerStatsSample,
  ContainerSummary,
  ContainersPruneReport,
  ContainerTop,
  ContainerUpdateResult,
  ExecCreateBody,
  ExecInspect,
  HostConfig,
  ImageDeleteEntry,
  ImageHistoryEntry,
  ImageInspect,
  ImageSummary,
  ImagesDiskUsage,
  ImagesPruneReport,
  NetworkConnectRequest,
  NetworkCreateRequest,
  NetworkDisconnectRequest,
  NetworkInspect,
  NetworksPruneReport,
  PluginStatus,
  SystemInfo,
  VersionInfo,
  Volume,
  VolumeCreateBody,
  VolumeListResponse,
  VolumesPruneReport,
} from './types.js';

/**
 * The engine as the API layer sees it: everything `@berth/api` serves, and nothing
 * about how. The engine (`@berth/engine`) implements it; an embedder may wrap it.
 * Names are resolved here (id, unique id prefix, or name); errors are core's classes
 * (NotFound, Conflict, InvalidArgument, ...), which carry their HTTP status.
 */
export interface EngineApi {
  readonly events: EventBus;
  readonly containers: ContainersApi;
  readonly images: ImagesApi;
  readonly execs: ExecsApi;
  readonly filesystems: ContainerFilesystemsApi;
  readonly networks: NetworksApi;
  readonly volumes: VolumesApi;
  readonly builds: BuildsApi;
  version(): VersionInfo;
  info(): Promise<SystemInfo>;
  plugins(): PluginStatus[];
}

/** `docker ps` filters, already parsed: key → accepted values. */
export type Filters = Record<string, string[]>;

export interface ContainerListOptions {
  all?: boolean;
  limit?: number;
  size?: boolean;
  filters?: Filters;
}

export interface RemoveContainerOptions {
  force?: boolean;
  /** Remove anonymous volumes too (`-v`). */
  volumes?: boolean;
}

/** What `wait` answers: Docker's `{StatusCode, Error}`. */
export interface WaitResult {
  StatusCode: number;
  Error: { Message: string } | null;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface LogsOptions {
  follow?: boolean;
  /** Include the container's stdout (default true: only `false` leaves it out). */
  stdout?: boolean;
  /** Include the container's stderr (default true: only `false` leaves it out). */
  stderr?: boolean;
  /** Unix seconds (fractions allowed): only lines at or after. */
  since?: number;
  /** Unix seconds: only lines before. */
  until?: number;
  timestamps?: boolean;
  /** Number of lines from the end, or all. */
  tail?: number | 'all';
  /** Aborts a follow (the client went away). */
  signal?: AbortSignal;
}

/** One line of a container's log. */
export interface LogLine {
  stream: 'stdout' | 'stderr';
  data: Buffer;
  /** RFC 3339 with nanoseconds, as Docker prints with `-t`. */
  time: string;
}

export interface AttachOptions {
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Replay the log before streaming. */
  logs?: boolean;
  /** Stream live output (Docker's `stream=1`). */
  stream?: boolean;
}

/**
 * A live attachment to a container's stdio. It is valid before the container starts:
 * the API attaches first, then the client starts the container, and no output is lost.
 */
export interface AttachSession {
  /** Whether the container has a tty (raw output) or not (multiplexed frames). */
  readonly tty: boolean;
  onOutput(listener: (stream: 'stdout' | 'stderr', data: Buffer) => void): () => void;
  /** Resolves when the container's output has ended (it exited) or the session was detached. */
  readonly ended: Promise<void>;
  writeStdin(data: Buffer): void;
  closeStdin(): void;
  /** Leave the container running and stop receiving output. */
  detach(): void;
}

export interface ContainersApi {
  create(body: ContainerCreateBody, name?: string): Promise<{ Id: string; Warnings: string[] }>;
  start(ref: string): Promise<void>;
  /** SIGTERM (or the image's stop signal), then SIGKILL after `timeoutSeconds` (default 10). */
  stop(ref: string, timeoutSeconds?: number): Promise<void>;
  kill(ref: string, signal?: string): Promise<void>;
  /**
   * Docker's restart: a running container is stopped as `stop` does (its stop signal,
   * then SIGKILL after `timeoutSeconds`, default its StopTimeout or 10), then started
   * again; a stopped or created container is just started. It publishes what stop and
   * start publish (`die`, `stop`, `start` for a running one) and then `restart`. Unlike
   * `start`, it never answers NotModified: restarting is always an action.
   */
  restart(ref: string, timeoutSeconds?: number): Promise<void>;
  remove(ref: string, options?: RemoveContainerOptions): Promise<void>;
  list(options?: ContainerListOptions): Promise<ContainerSummary[]>;
  inspect(ref: string): Promise<ContainerInspect>;
  /**
   * Resolves when the condition holds. The waiter is registered before the returned
   * promise is, so a wait issued before `start` never misses a fast exit.
   */
  wait(ref: string, condition?: WaitCondition): Promise<WaitResult>;
  logs(ref: string, options: LogsOptions): Promise<{ tty: boolean; lines: AsyncIterable<LogLine> }>;
  attach(ref: string, options: AttachOptions): Promise<AttachSession>;
  /**
   * The window size of a running container's terminal (`POST /containers/{id}/resize`);
   * nothing for a container without one. Conflict when it is not running.
   */
  resize(ref: string, height: number, width: number): Promise<void>;
  /** Freeze every process of a running container (`pause` event); Conflict when it is not running or already paused. */
  pause(ref: string): Promise<void>;
  /** Thaw a paused container (`unpause` event); Conflict when it is not paused. */
  unpause(ref: string): Promise<void>;
  /** Give a container a new name (`rename` event, with `oldName`); the old name is free at once. Conflict when the name is taken. */
  rename(ref: string, newName: string): Promise<void>;
  /** Change a container's limits (applied at once when it runs) and its restart policy (`update` event). */
  update(ref: string, changes: ContainerUpdate): Promise<ContainerUpdateResult>;
  /** The container's processes as `ps` shows them with `psArgs` (default `-ef`); Conflict when it is not running. */
  top(ref: string, psArgs?: string): Promise<ContainerTop>;
  /**
   * Resource usage samples: one answered at once (`stream: false`), its `precpu_stats`
   * an earlier reading so that a CPU percentage comes from the one sample; or one a
   * second until `signal` aborts. A container that does not run gives zeroed samples.
   */
  stats(ref: string, options: StatsOptions): AsyncIterable<ContainerStatsSample>;
  /** Remove every stopped container matching `filters` (`until`, `label`, `label!`). */
  prune(filters?: Filters): Promise<ContainersPruneReport>;
}

/** The HostConfig fields `docker update` may change on a container: its limits and its restart policy. */
export const containerUpdateFields = [
  'Memory',
  'MemorySwap',
  'MemoryReservation',
  'NanoCpus',
  'CpuShares',
  'CpuPeriod',
  'CpuQuota',
  'CpusetCpus',
  'PidsLimit',
  'RestartPolicy',
] as const satisfies ReadonlyArray<keyof HostConfig>;

/** What `docker update` may change on a container (containerUpdateFields). */
export type ContainerUpdate = Pick<HostConfig, (typeof containerUpdateFields)[number]>;

export interface StatsOptions {
  /** Keep sending a sample a second until the client goes (`stream=1`, the default). */
  stream: boolean;
  /** With `stream=false`: leave `precpu_stats` zeroed (dockerd's `one-shot`); InvalidArgument with `stream`. */
  oneShot?: boolean;
  /** Aborts a stream (the client went away). */
  signal?: AbortSignal;
}

/**
 * `docker exec`: a process run in a running container beside its own, with the
 * container's namespaces, cgroups and security settings. Lifecycle: `create` records
 * what to run (Conflict unless the container runs and is not paused) → `start` runs it,
 * attached (an `AttachSession` whose end comes after the exit code is recorded) or
 * detached → `inspect` reports Running, Pid and, once it ended, ExitCode. An exec is
 * forgotten with its container. Events: `exec_create: <cmd>`, `exec_start: <cmd>`,
 * `exec_die` (with `exitCode`).
 */
export interface ExecsApi {
  /** Record an exec in container `ref`; returns its id. */
  create(ref: string, body: ExecCreateBody): Promise<{ Id: string }>;
  /**
   * Run the exec. Attached: resolves with its session once it runs, or, when the runtime
   * could not run it, with a session that carries the runtime's message as output and
   * ends (ExitCode 126, or 127 for a command not found), as dockerd answers on the
   * hijacked stream. Detached: resolves once it runs (rejects when it could not).
   * Conflict when it was started before or its container no longer runs.
   */
  start(id: string, options: { detach: boolean }): Promise<AttachSession | undefined>;
  inspect(id: string): Promise<ExecInspect>;
  /** The exec's terminal size; before it runs, the size it will start with. */
  resize(id: string, height: number, width: number): Promise<void>;
}

export interface ImportOptions {
  /** `repo[:tag]` to tag the new image with, if any. */
  repo?: string;
  tag?: string;
  message?: string;
  /** Dockerfile instructions applied to the config (`-c 'ENV A=1'`). */
  changes?: string[];
  /**
   * Where the rootfs comes from: `-` (default) for the stream given, or an http(s) URL
   * the engine downloads (`docker import http://host/rootfs.tar`); the stream is then unused.
   */
  source?: string;
}

/**
 * One line of a pull's or push's progress, as Docker's JSON-lines stream carries it
 * (`{"status":"Downloading","id":"6f79797a2ae7","progressDetail":{"current":98,"total":98},"progress":"[==>  ] 98B/98B"}`).
 * `id` names the layer (12 hex) or, on the first line of a pull, the tag.
 */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  /** Machine-readable result: a push's `{Tag, Digest, Size}`. */
  aux?: Record<string, unknown>;
}

/**
 * Credentials for a registry, as the `X-Registry-Auth` header and `POST /auth` carry
 * them (Docker's AuthConfig): a user and password, or an identity token (an OAuth2
 * refresh token), or a ready bearer token.
 */
export interface RegistryAuth {
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  serveraddress?: string;
}

/** What `ImagesApi.pull` takes besides the reference. */
export interface PullOptions {
  /** `os/arch[/variant]` to pick from a manifest list (default: the host's, linux/amd64). */
  platform?: string;
  /** Every tag of the repository (`docker pull -a`). */
  allTags?: boolean;
  auth?: RegistryAuth;
  /** Called for each progress line; the pull waits for none of them. */
  progress: (message: ProgressMessage) => void;
  /** Stops the transfers (the client went away); what was stored stays garbage until collected. */
  signal?: AbortSignal;
}

/** What `ImagesApi.push` takes besides the reference. */
export interface PushOptions {
  auth?: RegistryAuth;
  progress: (message: ProgressMessage) => void;
  signal?: AbortSignal;
}

export interface ImagesApi {
  list(options?: { all?: boolean; filters?: Filters }): Promise<ImageSummary[]>;
  inspect(ref: string): Promise<ImageInspect>;
  history(ref: string): Promise<ImageHistoryEntry[]>;
  /** Add `repo:tag` to the image `ref` names. `repo` may carry the `docker.io/` prefix the CLI sends. */
  tag(ref: string, repo: string, tag?: string): Promise<void>;
  remove(ref: string, options?: { force?: boolean; noprune?: boolean }): Promise<ImageDeleteEntry[]>;
  /** A rootfs tarball (plain or gzip) becomes a one-layer image; returns its id (`sha256:...`). */
  import(tar: Readable, options: ImportOptions): Promise<string>;
  /** A docker-archive (or OCI layout) tarball; returns the loaded names (`busybox:latest`, or ids when untagged). */
  load(tar: Readable): Promise<string[]>;
  /**
   * A docker-archive of the named images; `format: 'oci'` makes it an OCI image layout
   * that is a docker-archive too (as Docker 25+ writes), `docker` (default) the legacy one.
   */
  save(refs: string[], options?: { format?: 'docker' | 'oci' }): Promise<Readable>;
  /**
   * `docker image prune`: remove the images no container uses that match `filters`
   * (`dangling=true`, the default, only unnamed ones; `dangling=false` every one, `-a`;
   * `until`, `label`, `label!`), with the blobs and layer snapshots only they used.
   */
  prune(filters?: Filters): Promise<ImagesPruneReport>;
  /** The images of `docker system df`: shared and unique sizes, how many containers use each. */
  diskUsage(): Promise<ImagesDiskUsage>;
  /**
   * `docker pull`: `ref` is `name`, `name:tag` or `name@digest` (a tag defaults to
   * `latest`, `allTags` pulls every tag). Progress goes to `options.progress` in Docker's
   * wording, ending with `Digest: …` and `Status: …`. An error before the first
   * progress line (an unknown manifest, a refused login) is thrown without any.
   */
  pull(ref: string, options: PullOptions): Promise<void>;
  /** `docker push` of `name[:tag]` (every tag of the repository when none is given). */
  push(ref: string, options: PushOptions): Promise<void>;
  /** `docker login`: checks `auth` against its registry; Unauthorized when refused. */
  login(auth: RegistryAuth): Promise<{ Status: string; IdentityToken?: string }>;
}

/** One path of `docker diff`: Kind 0 modified, 1 added, 2 deleted (Docker's `ChangeKind`). */
export interface ContainerChangeEntry {
  Path: string;
  Kind: 0 | 1 | 2;
}

/**
 * What `docker cp` learns about a path in a container (the `X-Docker-Container-Path-Stat`
 * header, base64 JSON): `mode` is Go's `os.FileMode` (permission bits plus 1<<31 for a
 * directory, 1<<27 for a symlink...), `mtime` RFC 3339, `linkTarget` the path inside the
 * container a symlink leads to (empty otherwise).
 */
export interface ContainerPathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** The query of `POST /commit`. */
export interface CommitOptions {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  /** Dockerfile instructions applied to the config (`-c 'CMD ["sh"]'`). */
  changes?: string[];
  /** Pause a running container while its changes are read (default true, as Docker). */
  pause?: boolean;
}

/** The query of `PUT /containers/{id}/archive`. */
export interface PutArchiveOptions {
  /** Keep the tar's owners (`docker cp -a`); otherwise everything belongs to the container's root. */
  copyUIDGID?: boolean;
  /**
   * Refuse to replace a directory with a non-directory or the reverse (the docker CLI
   * always asks for it); otherwise what is in the way is replaced.
   */
  noOverwriteDirNonDir?: boolean;
}

/**
 * A container's filesystem, running or stopped: `docker diff`, `export`, `commit` and
 * `cp`. Every path is taken inside the container's root (symlinks resolved as if it were
 * `/`), never on the host. A stopped container's root is mounted for the operation (read
 * only unless it writes) and unmounted after; a running one's is read through its mount.
 */
export interface ContainerFilesystemsApi {
  /** What the container's writable layer adds, changes and deletes over its image. */
  changes(ref: string): Promise<ContainerChangeEntry[]>;
  /** The whole merged root filesystem as a tar stream. */
  export(ref: string): Promise<Readable>;
  /** A new image: the container's image plus its changes as one layer; returns its id. */
  commit(ref: string, options: CommitOptions): Promise<string>;
  /** NotFound when the path does not exist in the container. */
  statPath(ref: string, path: string): Promise<ContainerPathStat>;
  /** The path (not followed when it is a symlink) as a tar of one entry, or of a tree for a directory. */
  getArchive(ref: string, path: string): Promise<{ stat: ContainerPathStat; tar: Readable }>;
  /** Unpack `tar` into the directory `path`; `..` or writing through a symlink out of it is refused (InvalidArgument). */
  putArchive(ref: string, path: string, tar: Readable, options?: PutArchiveOptions): Promise<void>;
}

/**
 * Networks (`docker network ...`): a network is found by exact id, unique id prefix or
 * name. `create` answers Docker's `{Id, Warning}`; `remove` of a predefined network is
 * Forbidden, of one with endpoints a Conflict; `prune` removes every network that is not
 * predefined and has no endpoint (filters: `label`, `label!`, `until`).
 *
 * `connect` joins a container to a network: a running one at once (an interface `ethN`
 * in its namespace, its /etc/hosts updated), a created or stopped one at its next start
 * (the network is recorded with its settings). `disconnect` undoes it; `Force` also
 * drops the record of a network that no longer exists. The errors are dockerd's
 * (docs/docker-api.md, "Network connect and disconnect").
 */
/**
 * Volumes (`/volumes`): create (a repeat of an existing name with the same driver returns
 * it), list with Docker's filters (`name`, `label`, `label!`, `driver`, `dangling`),
 * inspect, remove (`force`: an unknown name is no error; a volume in use is a Conflict
 * naming its containers either way), prune (unused volumes, `label` filters).
 */
export interface VolumesApi {
  create(request: VolumeCreateBody): Promise<Volume>;
  list(filters?: Filters): Promise<VolumeListResponse>;
  inspect(name: string): Promise<Volume>;
  remove(name: string, force?: boolean): Promise<void>;
  prune(filters?: Filters): Promise<VolumesPruneReport>;
  /** Every volume with `UsageData` (its size, -1 when the driver gives no path, and how many containers use it), for `/system/df`. */
  diskUsage(): Promise<Volume[]>;
}

export interface NetworksApi {
  create(request: NetworkCreateRequest): Promise<{ Id: string; Warning: string }>;
  list(filters?: Filters): NetworkInspect[];
  inspect(idOrName: string): NetworkInspect;
  remove(idOrName: string): Promise<void>;
  prune(filters?: Filters): Promise<NetworksPruneReport>;
  connect(idOrName: string, request: NetworkConnectRequest): Promise<void>;
  disconnect(idOrName: string, request: NetworkDisconnectRequest): Promise<void>;
}

/** Where a build's output goes, as the classic builder streams it (`POST /build`'s JSON lines). */
export interface BuildOutput {
  /** Text for the client (`{"stream": …}`): step lines, RUN output, results. */
  stream(text: string): void;
  /** A FROM image's pull, as `docker pull` reports it. */
  progress(message: ProgressMessage): void;
  /** `{"aux": …}`: the built image's id, before `Successfully built`. */
  aux(value: Record<string, unknown>): void;
}

/** `POST /build` (the classic builder): the query, parsed, and the body. */
export interface BuildRequest {
  /**
   * The request body: the context as a tar (plain, gzip, bzip2, xz or zstd) or a
   * Dockerfile alone. Absent when `remote` names the context.
   */
  body?: Readable;
  /** `remote=`: a git repository (`…/x.git#ref:dir`), a tarball URL or a Dockerfile URL. */
  remote?: string;
  /** `dockerfile=`: the Dockerfile's path inside the context (default `Dockerfile`). */
  dockerfile?: string;
  /** `t=`, each given to the built image. */
  tags: string[];
  /** `buildargs=`; a null value is `--build-arg K` with K unset in the client. */
  buildArgs: Record<string, string | undefined>;
  /** `labels=`. */
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  /** `networkmode=`: the network of RUN steps (`default`, `none`, `host`). */
  network?: string;
  /**
   * `berth build --secret`: what `RUN --mount=type=secret,id=<id>` shows, by id (the
   * `X-Berth-Build-Secrets` header; the classic builder's API has no other way). Never in
   * an image, a cache key or a file on the data root.
   */
  secrets?: Record<string, Buffer>;
  output: BuildOutput;
  /** The client went away: the build stops and undoes its running step. */
  signal?: AbortSignal;
}

/**
 * Dockerfile builds. `build` resolves with the built image's id once it is tagged; a
 * Dockerfile that cannot be built is an InvalidArgument naming the file and line, a
 * failed RUN an error with `exitCode` (the classic builder's `errorDetail.code`).
 * Nothing of a failed build remains but the images its finished steps made (the cache).
 */
export interface BuildsApi {
  build(request: BuildRequest): Promise<{ imageId: string }>;
  /** The layer cache's entries (`system df`). */
  diskUsage(): Promise<BuildCacheRecord[]>;
  /**
   * `builder prune`: entries least recently used first, until what is left takes at most
   * `keepStorage` bytes; without `all`, only entries no named image needs. The images
   * only the removed entries kept (no name, no container, no child) go with them.
   * Filters: `until`. A build in progress keeps what it uses.
   */
  prune(options: { all?: boolean; keepStorage?: number; filters?: Filters }): Promise<BuildCachePruneReport>;
}
