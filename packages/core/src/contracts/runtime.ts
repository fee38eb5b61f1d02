/** One chunk a container wrote. */
export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/** How a container's process ended. */
export interface ExitStatus {
  /** The exit code; 128+N when killed by signal N. */
  exitCode: number;
  /** True when the kernel's OOM killer killed a process of the container. */
  oomKilled: boolean;
  /** When the exit was observed, ISO 8601. */
  finishedAt: string;
}

/** What the engine hands the runtime to create a container. */
export interface RuntimeCreateRequest {
  /** The container id; also the runtime's id for it. */
  id: string;
  /** The OCI bundle: a directory with config.json; `root.path` inside it is mounted already. */
  bundle: string;
  /**
   * A directory the runtime owns for this container's live state (sockets, pid and exit
   * files). `create` makes it afresh: whatever an earlier run left there is gone.
   */
  stateDir: string;
  /** Where the container's output goes, in Docker's json-file format. */
  logPath: string;
  /** Keep a pipe to the process's stdin open (for `docker run -i`). */
  openStdin: boolean;
}

/**
 * New limits for a running container's cgroup, as `update` applies them: the
 * `linux.resources` fields of the OCI runtime spec that can change while a container
 * runs (only those given change). Values are the spec's: bytes, CFS microseconds, shares.
 */
export interface RuntimeResources {
  memory?: { limit?: number; reservation?: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string };
  pids?: { limit: number };
}

/** A live connection to a container's stdio, held by the engine while it runs. */
export interface ContainerStreams {
  /** Subscribe to output; returns the unsubscribe function. */
  onOutput(listener: (chunk: OutputChunk) => void): () => void;
  /** Called once when the container's output is closed for good (it exited) or the connection dropped. */
  onClose(listener: () => void): void;
  writeStdin(data: Buffer): void;
  closeStdin(): void;
  /** Drop the connection; the container keeps running. */
  close(): void;
}

/**
 * What the runtime finds when the engine re-adopts a container after a daemon restart:
 * - `running`: its process was started and runs (the engine reconnects and waits);
 * - `created`: the runtime created it but its process was never started (a daemon that
 *   died between `create` and `start`): the init still waits, and the user's command
 *   never ran. The engine undoes the start (`kill` with SIGKILL, then `delete`);
 * - `exited`: it ran and exited meanwhile, with this status (255 when nothing tells how:
 *   its monitor died with it, or the host restarted).
 */
export type AdoptResult = { state: 'running'; pid: number } | { state: 'created'; pid: number } | { state: 'exited'; status: ExitStatus };

/**
 * A runtime runs containers from OCI bundles. The engine writes the bundle and calls,
 * in order:
 *
 * 1. `create(req)` → the container exists with its namespaces and cgroup, its process
 *    is set up but has not started the user's command; a per-container monitor (the
 *    shim) owns it from now on, so it survives a daemon restart. Returns the pid.
 *    A bad command (not found, not executable) fails here with the runtime's message.
 * 2. `connect(id)` → the engine subscribes to output before anything can be written.
 * 3. `start(id)` → the user's command runs.
 * 4. `wait(id)` resolves with the exit status once the process has exited and its
 *    output is drained; `kill(id, signal)` signals it meanwhile.
 *    While it runs, `pause(id)` freezes every process of the container (its cgroup's
 *    freezer, v1 or v2) and `resume(id)` thaws them; a frozen container neither runs nor
 *    exits, and a signal sent meanwhile is delivered at `resume` (SIGKILL included, so
 *    the engine resumes a paused container it kills). `update(id, resources)` changes
 *    its cgroup limits in place (memory, CPU, pids), as `docker update` does.
 * 5. `delete(id)` removes what the runtime holds for the container (its runtime state,
 *    its cgroup, its monitor's files). Idempotent: safe after a crash, on an unknown id.
 *
 * After a daemon restart the engine calls `adopt(id, stateDir)` for each container it
 * believed running, then `connect`/`wait` as above. When the engine stops it calls
 * `close()`: the runtime tidies what it holds for all containers (e.g. an empty cgroup
 * its monitors lived in); running containers and their monitors are left alone.
 */
export interface Runtime {
  /** The runtime's name as `--runtime` / `--default-runtime` select it: "runc", "crun". */
  readonly name: string;
  create(req: RuntimeCreateRequest): Promise<{ pid: number }>;
  connect(id: string): Promise<ContainerStreams>;
  start(id: string): Promise<void>;
  kill(id: string, signal: string): Promise<void>;
  /** Freeze the running container's processes (Conflict when it is not running). */
  pause(id: string): Promise<void>;
  /** Thaw a paused container's processes. */
  resume(id: string): Promise<void>;
  /** Change a running container's cgroup limits; fields not given keep their value. */
  update(id: string, resources: RuntimeResources): Promise<void>;
  wait(id: string): Promise<ExitStatus>;
  delete(id: string): Promise<void>;
  adopt(id: string, stateDir: string): Promise<AdoptResult>;
  /** The path and version of the runtime binary, for `docker info`. */
  describe(): Promise<{ path: string; version: string }>;
  /** The engine is stopping: release shared resources. Containers keep running. */
  close?(): Promise<void>;
}
