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

/**
 * A container's log as the runtime's monitor writes it: Docker's json-file format (one
 * `{"log","stream","time"}` line per chunk of output) at `path`, rotated as Docker's
 * json-file driver rotates when `rotation` is given: before an entry would take the file
 * past `maxSize` bytes, `<path>` becomes `<path>.1` (`.1` becomes `.2`, ... up to
 * `.maxFiles-1`, the oldest dropped); with `maxFiles` 1 the file is emptied instead.
 * Without `rotation` it is never rotated.
 */
export interface RuntimeLog {
  format: 'json-file';
  path: string;
  rotation?: { maxSize: number; maxFiles: number };
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
  /**
   * Where and how the container's output is logged; absent, it is not (`--log-driver
   * none`): only attached clients see it. The engine decides (its log configuration);
   * the runtime's monitor writes, so the log goes on while the daemon is down.
   */
  log?: RuntimeLog;
  /** Keep a pipe to the process's stdin open (for `docker run -i`). */
  openStdin: boolean;
  /**
   * The process has a terminal (`docker run -t`; the bundle's `process.terminal` is true):
   * the runtime makes a pty, its monitor holds the master (so the terminal outlives the
   * daemon), output is the pty's raw bytes (all `stdout`), stdin goes to the pty, and
   * `resize` sets its window size. Absent means false.
   */
  terminal?: boolean;
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

/**
 * What the engine hands the runtime to run one more process in a running container
 * (`docker exec`): the process joins all of the container's namespaces and cgroups and
 * gets the security settings it is given here (capabilities, no_new_privs, user), under
 * the container's seccomp profile.
 */
export interface RuntimeExecRequest {
  /** The container the process joins, as named to `create`. */
  containerId: string;
  /** The exec's own id (Docker's exec id). */
  execId: string;
  /**
   * A directory the runtime owns for this exec's live state (its monitor's socket, pid
   * and exit files). `exec` makes it afresh; `adoptExec` finds it again after a restart.
   */
  stateDir: string;
  /**
   * The OCI runtime spec's `process` object (args, env, cwd, user, capabilities,
   * noNewPrivileges, rlimits, terminal, consoleSize...), as the engine built it from the
   * container's own spec: the runtime passes it on and decides nothing in it.
   */
  process: Record<string, unknown>;
  /** Keep the process's stdin open (`docker exec -i`); else it reads /dev/null. */
  openStdin: boolean;
  /** The process has a terminal (`process.terminal`), held by its monitor as for `create`. */
  terminal: boolean;
}

/**
 * One process the runtime runs in a container beside its init (an exec), from `exec` or
 * `adoptExec`. Its monitor holds its stdio, terminal and exit status, so it outlives the
 * daemon as a container does.
 */
export interface RuntimeProcess {
  /** Its stdio, connected before `start`: nothing it writes is lost. */
  readonly streams: ContainerStreams;
  /**
   * Run the process; resolves with its pid once it runs. Rejects with the runtime's own
   * message when it cannot be run (`executable file not found in $PATH`, `permission
   * denied`): the monitor then records exit status 255 and ends. A runtime may have run
   * it already in `exec` (runtime-oci's direct exec: one round trip less): `start` then
   * reports that outcome, its output kept for `streams` all the same.
   */
  start(): Promise<{ pid: number }>;
  /**
   * Resolves with the exit status once the process has exited and its output is drained
   * (after a failed `start` too). Never resolves for a process whose monitor this daemon
   * let go of (`Runtime.close`): the next daemon adopts it.
   */
  wait(): Promise<ExitStatus>;
  /**
   * Send the process a signal (`SIGKILL`, `KILL` or `9`): how the engine ends a health
   * probe that ran past its timeout. Only the process itself is signalled, never the
   * container's init. Does nothing once it has exited; before `start` it discards the
   * process instead: it never runs, and `wait` resolves with exit status 255.
   */
  kill(signal: string): Promise<void>;
}

/**
 * A monitor made ahead of any exec in a running container (`Runtime.prepareExec`), for one
 * process without a terminal or stdin whose spec comes only at its start: what the
 * runtime does before a process can run (runtime-oci: launching a monitor into its
 * cgroups, 2-5 ms) is then off the path of the next exec. Nothing runs in the container
 * until the start. Lifecycle: prepared → bound to a process (`bind`, at the exec's
 * create: what to run is the monitor's from then on) → `start` as any exec's
 * process; or discarded before its start (`kill`: nothing ran, `wait` resolves with 255).
 * It also ends by itself (`wait` resolves, 255) when the container's init exits or the
 * daemon that prepared it goes.
 */
export interface PreparedExecProcess extends RuntimeProcess {
  /**
   * Give it `process` (the OCI process, as `RuntimeExecRequest.process` has it) to run at
   * its `start`, which rejects until then; nothing runs yet. False, and nothing given, when
   * this monitor cannot run that process (the engine then discards it and uses `exec`).
   * Once only.
   */
  bind(process: Record<string, unknown>): boolean;
}

/**
 * What `adoptExec` finds of an exec's monitor after a daemon restart:
 * - `running`: its process runs (the engine waits for it, and may signal it, through `process`);
 * - `created`: its monitor exists but the process was never started (the daemon died
 *   between `exec` and `start`): the engine discards it, `process.kill` ending the
 *   monitor without running anything;
 * - `exited`: it ran and exited meanwhile, with the status its monitor recorded (255
 *   when the monitor died without one).
 */
export type AdoptExecResult =
  | { state: 'running'; pid: number; process: RuntimeProcess }
  | { state: 'created'; process: RuntimeProcess }
  | { state: 'exited'; status: ExitStatus };

/** A live connection to a container's stdio, held by the engine while it runs. */
export interface ContainerStreams {
  /** Subscribe to output; returns the unsubscribe function. */
  onOutput(listener: (chunk: OutputChunk) => void): () => void;
  /** Called once when the container's output is closed for good (it exited) or the connection dropped. */
  onClose(listener: () => void): void;
  writeStdin(data: Buffer): void;
  closeStdin(): void;
  /**
   * Set the window size of the process's terminal (the kernel sends it SIGWINCH).
   * Rejects when the process has no terminal or has exited.
   */
  resize(height: number, width: number): Promise<void>;
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
 *
 * An exec (one more process in a running container) has a lifecycle of its own:
 *
 * 1. `exec(req)` → a monitor for the process exists (its own, beside the container's),
 *    with the process's stdio connected (`RuntimeProcess.streams`); nothing runs yet.
 * 2. `process.start()` → the process runs in the container's namespaces and cgroups
 *    (the pid is returned), or the runtime's error when it cannot be run.
 * 3. `process.wait()` resolves with its exit status once it exited and its output is
 *    drained; `streams.resize` sets its terminal's size meanwhile, `process.kill`
 *    signals it. The process ends with the container at the latest (its pid namespace
 *    goes).
 * 4. Once the engine has recorded its exit, `releaseExec(containerId, stateDir)` removes
 *    its state dir (the monitor's exit file, pid, socket). A container lives for months
 *    and a health probe execs every few seconds, so each exec's state goes when it is
 *    done, not with the container's; a dir a crash leaves behind goes with the
 *    container's (`delete`).
 *
 * After a daemon restart the engine calls `adoptExec(containerId, execId, stateDir)` for
 * each exec it had started in a running container: `running` (the process runs:
 * `wait` as above), `created` (never started: the engine discards it with
 * `process.kill`, and forgets the exec), or `exited` with the status the monitor
 * recorded (255 when the monitor died without one); `releaseExec` follows each exit.
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
  /**
   * Prepare a process to run in the running container `req.containerId` (an exec); a
   * runtime may also run it at once (see `RuntimeProcess.start`).
   */
  exec(req: RuntimeExecRequest): Promise<RuntimeProcess>;
  /**
   * Optional: a monitor for the next exec in the running container `containerId`, made
   * before that exec is asked for (`PreparedExecProcess`), its state in `stateDir` (as
   * `RuntimeExecRequest.stateDir`); undefined when this runtime cannot for this container
   * (the engine then uses `exec` as usual).
   */
  prepareExec?(containerId: string, stateDir: string): Promise<PreparedExecProcess | undefined>;
  /** Find an exec's monitor again after a daemon restart (see above). */
  adoptExec(containerId: string, execId: string, stateDir: string): Promise<AdoptExecResult>;
  /**
   * Remove an exited exec's state dir; called once the engine recorded its exit, never
   * while its monitor runs. Idempotent: nothing to do for a dir already gone.
   */
  releaseExec(containerId: string, stateDir: string): Promise<void>;
  /** The path and version of the runtime binary, for `docker info`. */
  describe(): Promise<{ path: string; version: string }>;
  /** The engine is stopping: release shared resources. Containers keep running. */
  close?(): Promise<void>;
}
