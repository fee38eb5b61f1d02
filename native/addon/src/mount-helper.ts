import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Socket } from 'node:net';
import { InvalidArgument, isSameProcess, type MountSpec, processStartTime, SystemError } from '@berth/core';
import { isMountPoint, MNT_DETACH, mountAll, umount, unmountAll } from './mount.js';

/** How a mount helper is started (MountSpec.helper). */
export interface MountHelperOptions {
  /** The file the helper's stdout and stderr are appended to (created 0600 when missing). */
  logPath: string;
  /** How long to wait for its `ready` line before giving up (default 10 s). */
  readyTimeoutMs?: number;
  /**
   * Descriptors the helper inherits as fd 4, 5, ... and keeps until it exits: the write
   * end of a pipe whose reader learns of the helper's death by end-of-file (the engine's
   * lifeline, which works after a berthd restart too, where the process is no child).
   */
  inheritFds?: readonly number[];
  /**
   * Called as soon as the process exists, before the wait for `ready`: the caller records
   * the pid there (written ahead), so that a crash during the wait leaves it findable.
   */
  onSpawn?(helper: MountHelperProcess): void;
}

/** A running mount helper: what the engine records to supervise it. */
export interface MountHelperProcess {
  /** Its pid, also its process group and session id (it leads a session of its own). */
  pid: number;
  /**
   * Its start time in clock ticks after boot (/proc/<pid>/stat field 22), so that a
   * recorded pid is never mistaken for another process that reuses the number.
   */
  startTime: number;
  /** The argv it was started with. */
  argv: string[];
  /** Where its output goes. */
  logPath: string;
  /** The mount point it serves. */
  target: string;
}

/** What mountAllAsync performed. */
export interface MountedAll {
  /** The helpers started for specs with a `helper`, in spec order (empty for plain mounts). */
  helpers: MountHelperProcess[];
}

const defaultReadyTimeoutMs = 10_000;
/** How long a helper told to stop gets before SIGKILL. */
const stopGraceMs = 2_000;

/** The argv of a helper spec: `<helper…> <source> <target> -o <options joined by ','>`. */
export function helperArgv(spec: MountSpec, target: string): string[] {
  const helper = spec.helper ?? [];
  if (helper.length === 0 || !helper[0]!.startsWith('/')) {
    throw new InvalidArgument(`mount helper of a ${spec.type} mount: want an absolute program path, got ${JSON.stringify(helper)}`);
  }
  const options = spec.options.length > 0 ? ['-o', spec.options.join(',')] : [];
  return [...helper, spec.source || 'none', target, ...options];
}

/**
 * Start the helper of one spec on `target` and wait for it to say `ready` on fd 3.
 * The process leads a session of its own, has /dev/null for stdin and the log for
 * stdout and stderr, and is unref'd: nothing here waits for it past `ready`, and it
 * outlives this process. On failure (it exits first, or the timeout passes) its
 * process group is killed, whatever it mounted on `target` is detached, and the error
 * (SystemError) names the helper, its exit status and the last lines of its log.
 */
export async function startMountHelper(spec: MountSpec, target: string, options: MountHelperOptions): Promise<MountHelperProcess> {
  const argv = helperArgv(spec, target);
  const log = openSync(options.logPath, 'a', 0o600);
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(argv[0]!, argv.slice(1), {
      detached: true,
      stdio: ['ignore', log, log, 'pipe', ...(options.inheritFds ?? [])],
    });
  } finally {
    closeSync(log);
  }
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code !== null ? `exit status ${code}` : `killed by ${signal}`));
    child.once('error', (err) => resolve(`not started: ${err.message}`));
  });
  const pid = child.pid;
  if (pid === undefined) {
    const how = await exited;
    throw new SystemError(`mount helper ${argv[0]} for ${target}: ${how}`);
  }
  const helper: MountHelperProcess = { pid, startTime: processStartTime(pid) ?? 0, argv, logPath: options.logPath, target };
  const readyPipe = child.stdio[3] as Socket;
  try {
    options.onSpawn?.(helper);
    const outcome = await Promise.race([
      readLine(readyPipe),
      exited.then((how) => ({ exited: how })),
      delay(options.readyTimeoutMs ?? defaultReadyTimeoutMs).then(() => ({ timedOut: true as const })),
    ]);
    if (typeof outcome === 'string' && outcome === 'ready') {
      readyPipe.destroy();
      child.unref();
      return helper;
    }
    let how: string;
    if (typeof outcome === 'string') how = `said ${JSON.stringify(outcome)} instead of "ready"`;
    else if ('exited' in outcome) how = `exited before it was ready (${outcome.exited})`;
    else how = `not ready after ${options.readyTimeoutMs ?? defaultReadyTimeoutMs} ms`;
    signalGroup(pid, 'SIGKILL');
    const status = await Promise.race([exited, delay(stopGraceMs).then(() => 'still running after SIGKILL')]);
    throw new SystemError(
      `mount helper ${argv[0]} for ${target} ${how}; ${status}; last lines of ${options.logPath}:\n${logTail(options.logPath)}`,
    );
  } catch (err) {
    readyPipe.destroy();
    signalGroup(pid, 'SIGKILL');
    detachAll(target);
    child.unref();
    throw err;
  }
}

/**
 * Perform specs in order on one target, plain ones by mount(2) (mountAll's rules) and
 * those with a `helper` by starting it (startMountHelper). On failure everything
 * already done is undone (helpers stopped, mounts detached) and the error rethrown.
 * A list without helper specs behaves exactly as mountAll.
 */
export async function mountAllAsync(specs: MountSpec[], target: string, options: MountHelperOptions): Promise<MountedAll> {
  const helpers: MountHelperProcess[] = [];
  let plain: MountSpec[] = [];
  try {
    for (const spec of specs) {
      if (spec.helper === undefined) {
        plain.push(spec);
        continue;
      }
      if (plain.length > 0) mountAll(plain, target);
      plain = [];
      helpers.push(await startMountHelper(spec, target, options));
    }
    if (plain.length > 0) mountAll(plain, target);
    return { helpers };
  } catch (err) {
    for (const helper of helpers.reverse()) signalGroup(helper.pid, 'SIGKILL');
    try {
      unmountAll(target);
    } catch {
      detachAll(target);
    }
    throw err;
  }
}

/**
 * Stop a helper: detach its mount (if still there), send its process group SIGTERM,
 * and SIGKILL after `graceMs` if it is still running. Resolves once it is gone. A helper
 * already gone, or a pid now owned by another process (start time differs), is left alone.
 */
export async function stopMountHelper(
  helper: Pick<MountHelperProcess, 'pid' | 'startTime' | 'target'>,
  graceMs = stopGraceMs,
): Promise<void> {
  detachAll(helper.target);
  if (!isSameProcess(helper.pid, helper.startTime)) return;
  signalGroup(helper.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isSameProcess(helper.pid, helper.startTime)) {
    if (Date.now() >= deadline) {
      signalGroup(helper.pid, 'SIGKILL');
      if (Date.now() >= deadline + graceMs) throw new SystemError(`mount helper ${helper.pid} for ${helper.target} survives SIGKILL`);
    }
    // A timer that holds the event loop: the caller is waiting for this.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Detach whatever is mounted on `target` (a dead FUSE mount included), deepest first. */
function detachAll(target: string): void {
  for (let i = 0; i < 16 && isMountPoint(target); i++) {
    try {
      umount(target, MNT_DETACH);
    } catch {
      return;
    }
  }
}

function readLine(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        socket.off('data', onData);
        resolve(text.slice(0, nl));
      }
    };
    socket.on('data', onData);
    // End of file without a line: let the exit (or the timeout) speak.
    socket.once('error', () => {});
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The last lines of a log file (at most 2 KiB of them), indented for an error message. */
export function logTail(path: string, lines = 10): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '  (no log)';
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 2048);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const tail = buffer.toString('utf8').trimEnd().split('\n').slice(-lines);
    return tail.length === 1 && tail[0] === '' ? '  (empty)' : tail.map((l) => `  ${l}`).join('\n');
  } finally {
    closeSync(fd);
  }
}
