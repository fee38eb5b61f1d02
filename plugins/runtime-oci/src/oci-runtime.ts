import { execFile } from 'node:child_process';
import { existsSync, type FSWatcher, promises as fs, mkdirSync, readFileSync, renameSync, rmSync, watch, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import * as path from 'node:path';
import {
  type AdoptExecResult,
  type AdoptResult,
  Conflict,
  type ContainerStreams,
  type ExitStatus,
  InvalidArgument,
  isSameProcess,
  type Logger,
  type MountInfoEntry,
  NotFound,
  type PreparedExecProcess,
  processStartTime,
  type Runtime,
  type RuntimeCreateRequest,
  type RuntimeExecRequest,
  type RuntimeProcess,
  type RuntimeResources,
  readMountInfo,
  SystemError,
  silentLogger,
} from '@berth/core';
import { type SpawningDetached, spawnDetachedAsync } from '@berth/native';
import { type BundleSpec, readBundleSpec } from './bundle-spec.js';
import { devicesCgroupDir, oomFiles } from './cgroups.js';
import { type CompiledSeccompCache, seccompBpfAnnotation } from './compiled-seccomp.js';
import { extraDeviceDenials } from './device-rules.js';
import { type DirectExecInput, planContainerDirectExec, planDirectExec } from './direct-exec-plan.js';
import { runcWording } from './runtime-messages.js';
import { ShimCgroup } from './shim-cgroup.js';
import { ShimConnection } from './shim-connection.js';
import { PreparedShimProcess, ShimProcess } from './shim-process.js';
import { connectSocket, lostExitStatus, maxSocketPath, readExitStatus, stateFiles } from './shim-state.js';

/** How an OciRuntime is wired: which binary, which shim, where the runtime keeps its state. */
export interface OciRuntimeOptions {
  /** "runc" or "crun": the name `--runtime` selects. */
  name: string;
  /** Absolute path of the runtime binary. */
  binary: string;
  /** Absolute path of berth-shim. */
  shimPath: string;
  /** The runtime's `--root`: where it keeps its per-container state. */
  stateRoot: string;
  log?: Logger;
  /** How long create may take before the shim is given up on (ms). */
  createTimeoutMs?: number;
  /**
   * The runtime keeps a created container's init waiting on `<stateRoot>/<id>/exec.fifo`,
   * and `<runtime> start` does little but use it and remove it. Then the shim starts the
   * container by the fifo itself, without a runtime process (~7 ms for runc, ~5 ms for
   * crun in its mount namespace). `'read'`: runc, whose init writes a byte and waits for a
   * reader (runc's poststart hooks run at create). `'write'`: crun, whose init waits to read
   * a byte; crun's start also runs poststart hooks, so a bundle that has some is started
   * by `crun start` (see `create`).
   */
  execFifo?: 'read' | 'write';
  /**
   * The shim leaves an exited container's runtime state (`--keep-runtime-state`) and
   * `delete` removes it in this process with this function, as the runtime's `delete`
   * would (runc-exited-state.ts, crun-exited-state.ts): no runtime process (~5-7 ms)
   * between a container's exit and its removal. It returns false for anything it does not
   * expect, which then falls back to `<runtime> delete --force`.
   */
  removeExitedState?: (stateRoot: string, id: string) => Promise<boolean>;
  /** The cgroup each shim moves itself into (shim-cgroup.ts); default: none, shims stay in the daemon's. */
  shimCgroup?: ShimCgroup;
  /**
   * A mount every process of the runtime runs without (crun-probe.ts: hybridCgroup2Mount): each one starts in
   * a mount namespace of its own, a slave copy of the host's with this mount detached,
   * which lives only as long as that process (the shims' `--hide-mount`; the commands run
   * from here go through `berth-shim --hide-mount P --run`). For crun on a cgroup v1 host
   * with an empty cgroup2 hierarchy at /sys/fs/cgroup/unified, which crun refuses.
   */
  hideMount?: string;
  /**
   * After create, before the container runs: deny in its v1 devices cgroup every device
   * the runtime allowed of its own accord beyond the bundle's rules (device-rules.ts;
   * crun allows the host's /dev/console). A no-op on a v2 host.
   */
  enforceBundleDevices?: boolean;
  /**
   * crun only: hand create the seccomp program crun compiled for an earlier container
   * with the same profile, instead of compiling it again (compiled-seccomp.ts).
   */
  compiledSeccomp?: CompiledSeccompCache;
  /**
   * Run execs without a runtime process where the container allows it (direct-exec-plan.ts,
   * native/shim/direct-exec.c): the exec's shim joins the init's namespaces and cgroups and
   * applies the process's ids, capabilities, rlimits and the container's seccomp program
   * itself. `seccompProgram(stateRoot, id)` is where the runtime keeps the container's
   * compiled program (crun: `seccomp.bpf` in its state); without one, a container with a
   * seccomp filter still goes through `<runtime> exec`. Default: off (the runtime's exec).
   */
  directExec?: { seccompProgram?: (stateRoot: string, id: string) => string | undefined };
}

/**
 * An OCI runtime (runc, crun) driven through berth-shim. `create` starts one detached
 * shim per container, which runs `<runtime> create` and from then on owns the
 * container: stdio, log file, exit status. This object keeps only a map from id to
 * state dir, so a new instance (after a daemon restart) picks containers up with `adopt`.
 */
export class OciRuntime implements Runtime {
  readonly name: string;
  private readonly stateDirs = new Map<string, string>();
  private readonly waits = new Map<string, Promise<ExitStatus>>();
  /** The live connection `connect` handed out per container; `start` asks on it. */
  private readonly connections = new Map<string, ShimConnection>();
  /** The shim connections `wait` holds open; close() drops them. */
  private readonly waitSockets = new Set<Socket>();
  private readonly log: Logger;
  private readonly shimCgroup: ShimCgroup;
  /** The `exec-facts.json` writes under way, by container (`recordFacts`). */
  private readonly factsWritten = new Map<string, Promise<void>>();
  /** The file of each container's plan part for monitors made ahead, by its init (containerPlanFile). */
  private readonly containerPlans = new Map<string, { init: string; file: string }>();
  /**
   * The shim pid of each exec monitor launched to wait for its start, by its state dir,
   * from its ready line (`created <pid>`): its shim.pid is written just after that line, so
   * a monitor ended at once (releaseExec) is awaited by this pid until then. Dropped at
   * its releaseExec, or with its container's delete.
   */
  private readonly monitorPids = new Map<string, ShimIdentity>();
  /** The host's mounts, for the cgroup hierarchies of a direct exec: read at the first one. */
  private mounts?: MountInfoEntry[];

  constructor(private readonly options: OciRuntimeOptions) {
    this.name = options.name;
    this.log = options.log ?? silentLogger;
    this.shimCgroup = options.shimCgroup ?? ShimCgroup.none();
  }

  async create(req: RuntimeCreateRequest): Promise<{ pid: number }> {
    const stateDir = path.resolve(req.stateDir);
    const socket = path.join(stateDir, stateFiles.socket);
    if (Buffer.byteLength(socket) > maxSocketPath) {
      throw new InvalidArgument(`state dir of container ${req.id} is too long for a UNIX socket: ${socket}`);
    }
    // A fresh state dir: what a previous run of the container left (exit.json, a dead
    // shim's socket) must not be taken for this run's.
    // Synchronously: a directory or two (microseconds), where three round trips through
    // libuv's threadpool queued behind its other work on the path of every start.
    rmSync(stateDir, { recursive: true, force: true });
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.options.stateRoot, { recursive: true, mode: 0o700 });
    // biome-ignore format: flag and value pairs
    const args = [
      '--id', req.id,
      '--bundle', path.resolve(req.bundle),
      '--state-dir', stateDir,
      '--runtime', this.options.binary,
      '--runtime-root', this.options.stateRoot,
    ];
    if (req.log) args.push('--log', path.resolve(req.log.path));
    if (req.log?.rotation) {
      args.push('--log-max-size', String(req.log.rotation.maxSize), '--log-max-files', String(req.log.rotation.maxFiles));
    }
    if (req.openStdin) args.push('--stdin');
    if (req.terminal) args.push('--terminal');
    const spec = readBundleSpec(req.bundle);
    if (this.options.execFifo === 'read' || (this.options.execFifo === 'write' && !hasPoststartHooks(spec))) {
      args.push('--exec-fifo', path.join(this.options.stateRoot, req.id, 'exec.fifo'));
      if (this.options.execFifo === 'write') args.push('--exec-fifo-write');
    }
    if (this.options.removeExitedState) args.push('--keep-runtime-state');
    for (const file of oomFiles(spec, req.id)) args.push('--oom-file', file);
    for (const dir of this.shimCgroup.dirs) args.push('--cgroup', dir);
    if (this.options.hideMount) args.push('--hide-mount', this.options.hideMount);
    const learnSeccomp = this.useCompiledSeccomp(spec, stateDir, args);

    const line = await this.spawnShim(req.id, stateDir, args);
    if (line.startsWith('ok ')) {
      const pid = Number(line.slice(3));
      this.stateDirs.set(req.id, stateDir);
      if (this.options.directExec) this.recordFacts(req.id, stateDir, spec);
      if (learnSeccomp) this.options.compiledSeccomp!.learn(learnSeccomp, this.options.stateRoot, req.id);
      if (this.options.enforceBundleDevices) await this.enforceBundleDevices(req.id, spec);
      this.log.debug('container created', { id: req.id, pid });
      return { pid };
    }
    await this.removeShimFiles(stateDir);
    const message = line.startsWith('error ') ? runcWording(line.slice(6)) : `berth-shim exited without reporting (${line || 'no output'})`;
    const text = `OCI runtime create failed: ${message}`;
    // The process the user asked for cannot be run: their mistake, as Docker answers (400).
    if (/executable file not found|no such file or directory|permission denied|not a directory/i.test(message)) {
      throw new InvalidArgument(text);
    }
    throw new SystemError(text);
  }

  /**
   * What a direct exec must know of the container and cannot read from its init (which
   * applies its seccomp filter only once started: an exec right after start would see
   * none yet): whether the bundle has a seccomp profile, in `exec-facts.json` of the
   * container's state dir. Written in the threadpool, off the path of every create (a file
   * created on a busy disk costs up to a millisecond); `exec` and `delete` wait for it. A
   * file missing or unreadable sends execs through the runtime, as for a container of an
   * older berthd: never a direct exec without knowing.
   */
  private recordFacts(id: string, stateDir: string, spec: BundleSpec | undefined): void {
    const facts = { seccomp: spec?.linux?.seccomp !== undefined && spec?.linux?.seccomp !== null };
    const written = fs
      .writeFile(path.join(stateDir, containerFactsFile), JSON.stringify(facts), { mode: 0o600 })
      .catch(() => {}) // a state dir gone meanwhile: nothing to record
      .finally(() => {
        if (this.factsWritten.get(id) === written) this.factsWritten.delete(id);
      });
    this.factsWritten.set(id, written);
  }

  /**
   * With a program learnt for the bundle's seccomp profile: a copy of its config carrying
   * the program (in the shim's state dir, which dies with the host as crun's own state
   * does) is what create reads (`--runtime-config`). Returns the key to learn the
   * program under once crun compiled it, when none is known yet.
   */
  private useCompiledSeccomp(spec: BundleSpec | undefined, stateDir: string, args: string[]): string | undefined {
    const cache = this.options.compiledSeccomp;
    if (!cache || !spec?.linux?.seccomp || spec.annotations?.[seccompBpfAnnotation] !== undefined) return undefined;
    const key = cache.keyOf(spec.linux.seccomp);
    if (!key) return undefined;
    const program = cache.lookup(key);
    if (!program) return key;
    const file = path.join(stateDir, 'runtime-config.json');
    writeFileSync(file, JSON.stringify({ ...spec, annotations: { ...spec.annotations, [seccompBpfAnnotation]: program } }), {
      mode: 0o600,
    });
    args.push('--runtime-config', file);
    return undefined;
  }

  /**
   * Start the shim detached and read its one ready line ("ok <pid>" / "error <message>").
   * posix_spawn (@berth/native) rather than child_process.spawn: a fork of the daemon
   * copies its page tables, a vfork-style spawn does not (measured in berthd: 2.5 ms of
   * blocked event loop per create down to 1.1 ms, and fork grows with the heap). The
   * shim's `--detach` makes its first process exit at once, and spawnDetachedAsync reaps it,
   * so no shim is ever left a zombie of the daemon. No child_process fallback: the addon
   * is a dependency, and the engine cannot mount a rootfs without it anyway.
   */
  private async spawnShim(id: string, stateDir: string, args: string[]): Promise<string> {
    const { line, socket } = await this.spawnShimKeeping(id, stateDir, args);
    socket.destroy();
    return line;
  }

  /**
   * As spawnShim, and the ready socket is kept (with the bytes that came after the line):
   * a direct exec's shim goes on to use it as its first client's connection.
   */
  private async spawnShimKeeping(id: string, stateDir: string, args: string[]): Promise<{ line: string; socket: Socket; rest: Buffer }> {
    const timeoutMs = this.options.createTimeoutMs ?? 120_000;
    let spawned: SpawningDetached;
    try {
      // Nothing of the shim's start is waited for on this thread: the spawn runs in the
      // threadpool (its vfork waits for the shim's exec) and the first process (its fork,
      // its exit) is reaped when the event loop sees it exit: 1-7 ms of a blocked event
      // loop per shim otherwise (berthd's CPU profile of 60 execs), during which every
      // other request waited.
      spawned = await spawnDetachedAsync(this.options.shimPath, ['--detach', '--ready-fd', '3', ...args], { readyFd: true });
    } catch (err) {
      throw new SystemError(`cannot run berth-shim ${this.options.shimPath}: ${(err as Error).message}`);
    }
    return new Promise((resolve, reject) => {
      const ready = new Socket({ fd: spawned.readyFd!, readable: true, writable: true });
      let text = Buffer.alloc(0);
      let settled = false;
      const done = (err: Error | null, line?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ready.removeListener('data', onData);
        ready.removeListener('end', onEnd);
        ready.removeListener('error', onError);
        if (err) {
          ready.destroy();
          reject(err);
        } else {
          ready.pause();
          resolve({ line: line ?? '', socket: ready, rest: text });
        }
      };
      const timer = setTimeout(() => {
        killShim(stateDir);
        void this.runtime(['delete', '--force', id]).catch(() => {});
        done(new SystemError(`OCI runtime create failed: container ${id}: no answer from berth-shim in ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (err: Error) => done(new SystemError(`cannot read berth-shim's ready socket: ${err.message}`));
      const onData = (chunk: Buffer) => {
        text = Buffer.concat([text, chunk]);
        // `warn <text>` lines may come first (a cgroup the shim could not join): logged.
        for (let nl = text.indexOf(10); nl >= 0; nl = text.indexOf(10)) {
          const line = text.subarray(0, nl).toString('utf8');
          text = text.subarray(nl + 1);
          if (!line.startsWith('warn ')) return done(null, line);
          this.log.warn(`berth-shim: ${line.slice(5)}`, { id });
        }
      };
      // EOF without a line: the shim died, or its first process failed (usage: status 2).
      const onEnd = () => {
        const said = text.toString('utf8').trim();
        if (said) done(null, said);
        else void spawned.exited.then((status) => done(null, status ? `status ${status}` : ''));
      };
      ready.on('error', onError);
      ready.on('data', onData);
      ready.on('end', onEnd);
    });
  }

  async connect(id: string): Promise<ContainerStreams> {
    const stateDir = this.stateDirOf(id);
    try {
      const connection = new ShimConnection(await connectSocket(path.join(stateDir, stateFiles.socket)));
      this.connections.set(id, connection);
      connection.onClose(() => {
        if (this.connections.get(id) === connection) this.connections.delete(id);
      });
      return connection;
    } catch (err) {
      // Exited already: streams that are closed, rather than an error the engine must special-case.
      if (existsSync(path.join(stateDir, stateFiles.exit))) return closedStreams();
      throw new Conflict(`container ${id} is not running: cannot connect to its shim: ${(err as Error).message}`);
    }
  }

  /**
   * Ask the shim to start the container (the exec fifo, or `<runtime> start`: the shim is
   * small, so its fork is cheap, where a spawn from the daemon's large process costs
   * several milliseconds). On the connection `connect` made when there is one (the
   * engine always connects first), else on one of its own: a connection less on the
   * path of every start.
   */
  async start(id: string): Promise<void> {
    const stateDir = this.stateDirOf(id);
    let reply: string;
    try {
      const connection = this.connections.get(id);
      if (connection) reply = await connection.control('start');
      else {
        const own = new ShimConnection(await connectSocket(path.join(stateDir, stateFiles.socket)));
        try {
          reply = await own.control('start');
        } finally {
          own.close();
        }
      }
    } catch (err) {
      // An init that died before start: the shim records the exit, then closes its socket
      // (before this connects, or while it asks). Said as runc says it.
      if (existsSync(path.join(stateDir, stateFiles.exit))) {
        throw new SystemError(`cannot start container ${id}: cannot start a container that has stopped`);
      }
      throw err;
    }
    if (reply !== 'ok') throw new SystemError(`cannot start container ${id}: ${runcWording(reply.replace(/^error: /, ''))}`);
  }

  async kill(id: string, signal: string): Promise<void> {
    try {
      await this.runtime(['kill', id, signal]);
    } catch (err) {
      // The container ended between the engine's decision and the signal: nothing to do.
      if (/not running|does not exist|no such process|container not found/i.test((err as Error).message)) return;
      throw err;
    }
  }

  /** `<runtime> pause`: the cgroup freezer (v1 `freezer.state`, v2 `cgroup.freeze`), set by the runtime. */
  async pause(id: string): Promise<void> {
    await this.runtime(['pause', id]).catch((err: Error) => {
      if (/not running|does not exist|container not found/i.test(err.message)) throw new Conflict(`Container ${id} is not running`);
      throw err;
    });
  }

  async resume(id: string): Promise<void> {
    await this.runtime(['resume', id]).catch((err: Error) => {
      if (/not paused/i.test(err.message)) throw new Conflict(`Container ${id} is not paused`);
      throw err;
    });
  }

  /** `<runtime> update` with one flag per limit given (runc and crun take the same flags). */
  async update(id: string, resources: RuntimeResources): Promise<void> {
    const args: string[] = [];
    const add = (flag: string, value: number | string | undefined) => {
      if (value !== undefined) args.push(`--${flag}`, String(value));
    };
    add('memory', resources.memory?.limit);
    add('memory-reservation', resources.memory?.reservation);
    add('memory-swap', resources.memory?.swap);
    add('cpu-share', resources.cpu?.shares);
    add('cpu-period', resources.cpu?.period);
    add('cpu-quota', resources.cpu?.quota);
    add('cpuset-cpus', resources.cpu?.cpus);
    add('pids-limit', resources.pids?.limit);
    if (args.length === 0) return;
    await this.runtime(['update', ...args, id]);
  }

  wait(id: string): Promise<ExitStatus> {
    const existing = this.waits.get(id);
    if (existing) return existing;
    const stateDir = this.stateDirOf(id);
    const promise = waitForExit(stateDir, this.waitSockets).finally(() => this.waits.delete(id));
    this.waits.set(id, promise);
    return promise;
  }

  async delete(id: string): Promise<void> {
    const stateDir = this.stateDirs.get(id);
    const runtimeState = path.join(this.options.stateRoot, id);
    // The shim reaps the init before it reports the exit, so an exited container's
    // runtime state can go while the shim finishes (removeExitedState); without that option
    // the shim runs `<runtime> delete` itself. Either way, wait for the shim, then delete
    // what is left with the runtime (a shim that died, a create that failed, a created
    // container whose init still waits).
    const removed =
      this.options.removeExitedState && existsSync(runtimeState) ? this.options.removeExitedState(this.options.stateRoot, id) : undefined;
    if (stateDir) await waitForShimExit(stateDir, 3000);
    await this.factsWritten.get(id); // never a file written into a state dir being removed
    if (!(await removed) && existsSync(runtimeState)) {
      await this.runtime(['delete', '--force', id]).catch((err: Error) => {
        if (!/does not exist|not found/i.test(err.message)) throw err;
      });
    }
    // A handful of small files (exit.json, pid, logs of the runtime): synchronously.
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    this.stateDirs.delete(id);
    this.containerPlans.delete(id);
    if (stateDir) {
      const inside = `${path.resolve(stateDir)}${path.sep}`;
      for (const dir of this.monitorPids.keys()) if (dir.startsWith(inside)) this.monitorPids.delete(dir);
    }
  }

  async adopt(id: string, stateDir: string): Promise<AdoptResult> {
    const dir = path.resolve(stateDir);
    this.stateDirs.set(id, dir);
    try {
      const socket = await connectSocket(path.join(dir, stateFiles.socket));
      socket.destroy();
      const pid = Number(readFileSync(path.join(dir, stateFiles.pid), 'utf8').trim());
      return { state: (await this.neverStarted(id, pid)) ? 'created' : 'running', pid };
    } catch {
      const status = readExitStatus(dir);
      if (status) return { state: 'exited', status };
    }
    // No shim and no exit record: the shim died with the container (or the host rebooted).
    this.log.warn('container lost its shim; marking it exited', { id });
    await this.runtime(['delete', '--force', id]).catch(() => {});
    await this.removeShimFiles(dir);
    return { state: 'exited', status: lostExitStatus() };
  }

  /**
   * An exec: a second berth-shim in exec mode (`--exec process.json`, beside the
   * container's), which listens and runs `<runtime> exec --detach` only when asked
   * (`start`), so the connection made here sees all of the output. Detached like a
   * container's shim, so the process, its pty and its exit status outlive the daemon.
   */
  async exec(req: RuntimeExecRequest): Promise<RuntimeProcess> {
    this.stateDirOf(req.containerId);
    const stateDir = this.freshExecStateDir(req.stateDir, req.execId);
    const socket = path.join(stateDir, stateFiles.socket);
    const began = performance.now();
    await this.factsWritten.get(req.containerId); // an exec right after create: its facts
    const direct = this.directExecPlan(req);
    const planned = performance.now() - began;
    let execArgs: string[];
    if (direct && 'plan' in direct) {
      // The plan holds the environment: readable by root only, like process.json.
      const planFile = path.join(stateDir, 'plan');
      writeFileSync(planFile, direct.plan, { mode: 0o600 });
      execArgs = ['--exec-plan', planFile, '--wait-start'];
    } else {
      if (direct) this.log.debug('exec through the runtime', { id: req.containerId, exec: req.execId, reason: direct.fallback });
      const processFile = path.join(stateDir, 'process.json');
      writeFileSync(processFile, JSON.stringify(req.process), { mode: 0o600 });
      execArgs = ['--exec', processFile];
    }
    const args = this.execShimArgs(execArgs, req.containerId, stateDir);
    if (req.openStdin) args.push('--stdin');
    if (req.terminal) args.push('--terminal');
    const spawning = performance.now();
    const isDirect = direct !== undefined && 'plan' in direct;
    const { line, socket: readySocket, rest } = await this.spawnShimKeeping(req.execId, stateDir, args);
    const ready = performance.now() - began;
    // A direct exec's shim is ready to run the process (`created`) and talks on the ready
    // socket: `start` is one request on it (no connect), answered once the process has
    // exec'd. Everything before it (the plan, the shim's launch into its cgroups) can
    // happen ahead of the start: the engine prepares at the exec's create.
    const waiting = isDirect ? this.waitingMonitor(stateDir, line) : false;
    if (waiting) {
      this.log.debug('exec monitor ready', {
        id: req.containerId,
        exec: req.execId,
        direct: true,
        planned: round(planned),
        written: round(spawning - began),
        ready: round(ready),
      });
      return new ShimProcess(new ShimConnection(readySocket, rest), stateDir);
    }
    readySocket.destroy();
    if (!line.startsWith('ok ')) {
      await fs.rm(stateDir, { recursive: true, force: true });
      const message = line.startsWith('error ')
        ? runcWording(line.slice(6))
        : `berth-shim exited without reporting (${line || 'no output'})`;
      throw new SystemError(`OCI runtime exec failed: ${message}`);
    }
    const connection = new ShimConnection(await connectSocket(socket));
    // Where an exec's time goes before its start, for `--debug` (bench/exec.js reads it).
    this.log.debug('exec monitor ready', {
      id: req.containerId,
      exec: req.execId,
      direct: false,
      planned: round(planned),
      written: round(spawning - began),
      ready: round(ready),
      connected: round(performance.now() - began),
    });
    return new ShimProcess(connection, stateDir);
  }

  /**
   * A monitor for the next exec in container `containerId` (core's PreparedExecProcess): a
   * direct exec's shim launched with the container part of its plan only
   * (`--process-later`), which waits in its cgroups for the process part and the start, so
   * an exec then costs one write and the process itself. Undefined when direct execs are
   * off, or execs in this container go through the runtime (the plan says why).
   */
  async prepareExec(containerId: string, stateDir: string): Promise<PreparedExecProcess | undefined> {
    this.stateDirOf(containerId);
    await this.factsWritten.get(containerId); // right after create: its facts
    const planFile = this.containerPlanFile(containerId);
    if (!planFile) return undefined;
    // A fresh name (the engine's): the shim makes the dir itself, off this event loop.
    const dir = this.execStateDirPath(stateDir, 'prepared');
    const args = this.execShimArgs(['--exec-plan', planFile, '--wait-start', '--process-later'], containerId, dir);
    const { line, socket, rest } = await this.spawnShimKeeping(containerId, dir, args);
    if (this.waitingMonitor(dir, line)) return new PreparedShimProcess(new ShimConnection(socket, rest), dir);
    socket.destroy();
    await fs.rm(dir, { recursive: true, force: true });
    throw new SystemError(
      `OCI runtime exec failed: cannot prepare a monitor: ${line.replace(/^error /, '') || 'no answer from berth-shim'}`,
    );
  }

  /**
   * The container part of a direct exec's plan for the container's current init (what
   * every monitor made ahead for it loads), in its state dir: written once per init, as
   * the namespaces, cgroups and seccomp program of an init do not change while it lives,
   * where each monitor made ahead read /proc, its mounts and its program again and wrote
   * a file of its own. Undefined where execs go through the runtime.
   */
  private containerPlanFile(id: string): string | undefined {
    const pid = Number(readFileSyncOr(path.join(this.stateDirOf(id), stateFiles.pid), '0').trim());
    const startTime = pid > 0 ? processStartTime(pid) : null;
    if (startTime === null) return undefined; // no init: nothing to exec in
    const init = `${pid} ${startTime}`;
    const known = this.containerPlans.get(id);
    if (known?.init === init) return known.file;
    const input = this.directExecInput(id);
    const where = input && ('fallback' in input ? input : planContainerDirectExec(input));
    if (!where || 'fallback' in where) return undefined;
    const file = path.join(this.stateDirOf(id), containerPlanFile);
    writeFileSync(`${file}.tmp`, where.plan, { mode: 0o600 });
    renameSync(`${file}.tmp`, file); // a shim launching meanwhile reads the old or the new, whole
    this.containerPlans.set(id, { init, file });
    return file;
  }

  /**
   * An exec's state dir, made afresh (normally none is there) for the files the engine
   * writes there before the shim's launch: synchronously (a directory create, 0.1-0.4 ms
   * on this VM's ext4), not round trips through libuv's threadpool queued behind whatever
   * else it does. Refused when its socket's path would not fit.
   */
  private freshExecStateDir(stateDir: string, execId: string): string {
    const dir = this.execStateDirPath(stateDir, execId);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /** An exec's state dir as an absolute path, refused when its socket's path would be too long. */
  private execStateDirPath(stateDir: string, execId: string): string {
    const dir = path.resolve(stateDir);
    const socket = path.join(dir, stateFiles.socket);
    if (Buffer.byteLength(socket) > maxSocketPath) {
      throw new InvalidArgument(`state dir of exec ${execId} is too long for a UNIX socket: ${socket}`);
    }
    return dir;
  }

  /** An exec shim's arguments after its mode's (`--exec…`), shared by every exec. */
  private execShimArgs(modeArgs: string[], containerId: string, stateDir: string): string[] {
    // biome-ignore format: flag and value pairs
    const args = [
      ...modeArgs,
      '--id', containerId,
      '--state-dir', stateDir,
      '--runtime', this.options.binary,
      '--runtime-root', this.options.stateRoot,
    ];
    for (const dir of this.shimCgroup.dirs) args.push('--cgroup', dir);
    if (this.options.hideMount) args.push('--hide-mount', this.options.hideMount);
    return args;
  }

  /**
   * The plan of a direct exec (no runtime process), or why this one goes through the
   * runtime; undefined when direct execs are off for this runtime.
   */
  private directExecPlan(req: RuntimeExecRequest): ReturnType<typeof planDirectExec> | undefined {
    const input = this.directExecInput(req.containerId);
    if (!input || 'fallback' in input) return input;
    return planDirectExec({ ...input, process: req.process });
  }

  /** What a direct exec's plan is made of, for container `id`, but the process. */
  private directExecInput(id: string): Omit<DirectExecInput, 'process'> | { fallback: string } | undefined {
    const options = this.options.directExec;
    if (!options) return undefined;
    let initPid: number;
    try {
      initPid = Number(readFileSync(path.join(this.stateDirOf(id), stateFiles.pid), 'utf8').trim());
    } catch {
      return { fallback: 'no pid file for the container' };
    }
    if (!(initPid > 0)) return { fallback: 'no pid for the container' };
    let facts: { seccomp?: boolean };
    try {
      facts = JSON.parse(readFileSync(path.join(this.stateDirOf(id), containerFactsFile), 'utf8'));
    } catch {
      return { fallback: 'no record of whether the container has a seccomp profile' };
    }
    this.mounts ??= readMountInfo();
    return {
      initPid,
      seccomp: facts.seccomp === true,
      seccompProgram: options.seccompProgram?.(this.options.stateRoot, id),
      mounts: this.mounts,
    };
  }

  async adoptExec(containerId: string, execId: string, stateDir: string): Promise<AdoptExecResult> {
    const dir = path.resolve(stateDir);
    const recorded = readExitStatus(dir);
    if (recorded) return { state: 'exited', status: recorded };
    let connection: ShimConnection;
    try {
      connection = new ShimConnection(await connectSocket(path.join(dir, stateFiles.socket)));
    } catch {
      const status = readExitStatus(dir);
      if (!status) this.log.warn('exec lost its shim; recording it exited', { id: containerId, exec: execId });
      return { state: 'exited', status: status ?? lostExitStatus() };
    }
    const pid = Number(readFileSyncOr(path.join(dir, stateFiles.pid), '0').trim());
    const process = new ShimProcess(connection, dir, pid > 0);
    return pid > 0 ? { state: 'running', pid, process } : { state: 'created', process };
  }

  /**
   * The exec's exit is recorded: its files go once its shim is gone. The shim tells the
   * exit (EOF) before its last steps (it lingers for its clients, then removes shim.pid):
   * a removal racing them could be left half done. In libuv's threadpool, not on the event
   * loop: it comes just as the client, told of the exit, asks for the exec's inspect, and
   * the unlinks of a busy disk (~1 ms per exec measured in berthd's profile) held that answer.
   */
  async releaseExec(containerId: string, stateDir: string): Promise<void> {
    const dir = path.resolve(stateDir);
    // Only ever a directory inside the container's own state dir.
    const container = this.stateDirs.get(containerId);
    if (container && !dir.startsWith(`${container}${path.sep}`)) {
      throw new InvalidArgument(`exec state dir ${dir} is not inside container ${containerId}'s`);
    }
    await waitForShimExit(dir, 3000, this.monitorPids.get(dir));
    this.monitorPids.delete(dir);
    await fs.rm(dir, { recursive: true, force: true });
  }

  /**
   * Whether a monitor's ready line says it waits for its start (`created <shim pid>`); its
   * pid is kept for releaseExec then.
   */
  private waitingMonitor(stateDir: string, line: string): boolean {
    const created = /^created (\d+)$/.exec(line);
    if (!created) return false;
    const pid = Number(created[1]);
    const startTime = processStartTime(pid);
    if (startTime !== null) this.monitorPids.set(path.resolve(stateDir), { pid, startTime });
    return true;
  }

  /**
   * Whether a container whose shim answers was created and never started: its init still
   * waits to exec the user's command. With the exec fifo, that is the fifo still there
   * (the start removes it once the init has read its byte) and the init still being the
   * runtime's (`runc:[2:INIT]`, before its exec); without, the runtime's own `state`.
   */
  private async neverStarted(id: string, pid: number): Promise<boolean> {
    if (this.options.execFifo === 'read') {
      if (!existsSync(path.join(this.options.stateRoot, id, 'exec.fifo'))) return false;
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('runc:[2:INIT]');
      } catch {
        return false; // gone: its exit is the shim's to report
      }
    }
    try {
      return (JSON.parse(await this.runtime(['state', id])) as { status?: string }).status === 'created';
    } catch {
      return false;
    }
  }

  /**
   * The engine is stopping: wait (briefly) for the shims of exited containers, which are
   * finishing, then remove the shim cgroup unless a running container's shim is in it.
   */
  async close(): Promise<void> {
    // Waits still pending end (with no exit): their containers run on, for the next instance.
    for (const socket of this.waitSockets) socket.destroy();
    const finishing = [...this.stateDirs.values()].filter((dir) => existsSync(path.join(dir, stateFiles.exit)));
    await Promise.all(finishing.map((dir) => waitForShimExit(dir, 1000)));
    await this.shimCgroup.close();
  }

  async describe(): Promise<{ path: string; version: string }> {
    const out = await execFileText(this.options.binary, ['--version']);
    return { path: this.options.binary, version: out.split('\n')[0]!.trim() };
  }

  private stateDirOf(id: string): string {
    const dir = this.stateDirs.get(id);
    if (!dir) throw new NotFound(`no such container in runtime ${this.name}: ${id}`);
    return dir;
  }

  /**
   * Take the devices cgroup of a container just created (its init waits for start, so
   * nothing of it has run) back to its bundle's rules. A failure removes the container:
   * it must not run with more devices than its bundle allows.
   */
  private async enforceBundleDevices(id: string, spec: BundleSpec | undefined): Promise<void> {
    const dir = devicesCgroupDir(spec, id);
    if (spec && !dir) return; // a v2 host: the runtime's device filter is its own eBPF program
    let denials: string[] = [];
    try {
      if (!spec || !dir) throw new Error("the bundle's config.json cannot be read");
      // cgroupfs files: synchronously (microseconds), on the path of every start.
      denials = extraDeviceDenials(readFileSync(path.join(dir, 'devices.list'), 'utf8'), spec.linux?.resources?.devices ?? []);
      for (const rule of denials) writeFileSync(path.join(dir, 'devices.deny'), rule);
    } catch (err) {
      await this.kill(id, 'KILL').catch(() => {});
      await this.delete(id).catch(() => {});
      const what = denials.length ? `deny ${denials.join(', ')} to` : 'read the device rules of';
      throw new SystemError(`OCI runtime create failed: cannot ${what} container ${id}: ${(err as Error).message}`);
    }
  }

  /** `<runtime> --root R <args>`; errors carry the runtime's own message. */
  private async runtime(args: string[]): Promise<string> {
    try {
      const full = ['--root', this.options.stateRoot, ...args];
      if (this.options.hideMount) {
        return await execFileText(this.options.shimPath, ['--hide-mount', this.options.hideMount, '--run', this.options.binary, ...full]);
      }
      return await execFileText(this.options.binary, full);
    } catch (err) {
      const e = err as Error & { stderr?: string };
      const message = runcWording(runtimeMessage(e.stderr ?? '') || e.message);
      throw new SystemError(`${this.name} ${args[0]} ${args[args.length - 1]}: ${message}`);
    }
  }

  private async removeShimFiles(stateDir: string): Promise<void> {
    for (const name of Object.values(stateFiles)) await fs.rm(path.join(stateDir, name), { force: true });
    await fs.rmdir(stateDir).catch(() => {});
  }
}

/** In a container's state dir: the container part of the plan of monitors made ahead for its execs. */
const containerPlanFile = 'exec-plan';

/** In a container's state dir: what a direct exec must know of the container's bundle (create writes it). */
const containerFactsFile = 'exec-facts.json';

/** Whether a bundle's config.json has poststart hooks (unreadable: assumed so, the runtime then starts it). */
/** Whether the bundle has poststart hooks (an unreadable one is taken as having some: the runtime reports it). */
function hasPoststartHooks(spec: BundleSpec | undefined): boolean {
  return !spec || (spec.hooks?.poststart?.length ?? 0) > 0;
}

function readFileSyncOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function execFileText(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8', maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr }));
      else resolve(stdout);
    });
  });
}

/** The `msg` of runc's logrus line (`level=error msg="container does not exist"`), else the text. */
function runtimeMessage(stderr: string): string {
  const messages = [...stderr.matchAll(/msg="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
  return messages.length ? messages[messages.length - 1]! : stderr.trim();
}

/**
 * Resolve when the shim closes its socket (it writes exit.json first); at once if it
 * already has. The socket is in `open` while it waits.
 */
async function waitForExit(stateDir: string, open: Set<Socket>): Promise<ExitStatus> {
  const early = readExitStatus(stateDir);
  if (early) return early;
  try {
    const socket = await connectSocket(path.join(stateDir, stateFiles.socket));
    open.add(socket);
    await new Promise<void>((resolve) => {
      socket.resume(); // output frames are the engine's other connection's business
      socket.on('close', () => {
        open.delete(socket);
        resolve();
      });
      socket.on('error', () => {});
    });
  } catch {
    // Socket gone: the shim has finished (exit.json) or died (handled below).
  }
  return readExitStatus(stateDir) ?? lostExitStatus();
}

/**
 * Wait (at most `timeoutMs`) until the shim of `stateDir` has exited: gone, or a zombie
 * awaiting its reaper. The shim removes shim.pid as its last act, so the unlink (seen at
 * once through inotify) says the exit is microseconds away, not that it happened: a shim
 * preempted on a loaded machine can still be in its exit for milliseconds, holding its
 * cgroup busy. So the process itself decides, known by its pid and its start time (a pid
 * reused meanwhile is another process, not the shim). `launched`: the shim as its spawner
 * knew it at launch, for a shim.pid not written yet.
 */
async function waitForShimExit(stateDir: string, timeoutMs: number, launched?: ShimIdentity): Promise<void> {
  const pidFile = path.join(stateDir, stateFiles.shimPid);
  const recorded = Number(readFileSyncOr(pidFile, '0').trim());
  // Without its shim.pid (not written yet, or gone already): the shim as launched.
  const shim = recorded > 0 ? { pid: recorded, startTime: processStartTime(recorded) } : launched;
  if (!shim) return;
  const { pid, startTime } = shim;
  const finished = () => startTime === null || !isSameProcess(pid, startTime);
  if (finished()) return;
  await new Promise<void>((resolve) => {
    let watcher: FSWatcher | undefined;
    let poll: NodeJS.Timeout;
    const done = () => {
      clearInterval(poll);
      clearTimeout(timer);
      watcher?.close();
      resolve();
    };
    const pollEvery = (ms: number) => {
      clearInterval(poll);
      poll = setInterval(() => finished() && done(), ms);
    };
    // The poll catches a shim that died without removing its file (SIGKILL), and a watch
    // that could not be set; once the file went, the exit is close: look every millisecond.
    pollEvery(10);
    const timer = setTimeout(done, timeoutMs);
    try {
      watcher = watch(stateDir, (_event, name) => {
        if (name !== stateFiles.shimPid || existsSync(pidFile)) return;
        if (finished()) done();
        else pollEvery(1);
      });
      watcher.on('error', () => {});
    } catch {
      // No watch (the directory went away meanwhile): the poll decides.
    }
    if (finished()) done();
  });
}

/** A shim process: its pid, and its start time (core's `processStartTime`), which tells it from a later one of that pid. */
interface ShimIdentity {
  pid: number;
  startTime: number;
}

/** SIGKILL the shim of a state dir, by the pid it recorded (a create that never answered). */
function killShim(stateDir: string): void {
  try {
    const pid = Number(readFileSync(path.join(stateDir, stateFiles.shimPid), 'utf8').trim());
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // No pid recorded, or gone already: nothing to kill.
  }
}

function closedStreams(): ContainerStreams {
  return {
    onOutput: () => () => {},
    onClose: (listener) => queueMicrotask(listener),
    writeStdin: () => {},
    closeStdin: () => {},
    resize: () => Promise.reject(new Conflict('the container has exited: it has no terminal to resize')),
    close: () => {},
  };
}

/** Milliseconds to 0.1 ms, for debug lines. */
function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
