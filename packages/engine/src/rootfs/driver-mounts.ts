import { closeSync, constants, promises as fs, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import * as path from 'node:path';
import {
  InvalidArgument,
  inject,
  injectable,
  isSameProcess,
  type Logger,
  LoggerToken,
  type MountSpec,
  readProcStat,
  SystemError,
  token,
} from '@berth/core';
import { AT, isMountPoint, logTail, mknodAt, mountAll, mountAllAsync, unmountAll } from '@berth/native';
import { HelperCgroup } from '../cgroups/helper-cgroup.js';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { type MountHelperEntry, MountHelperLedger, type MountOwner } from './mount-helper-ledger.js';

/**
 * Told when a helper dies while its mount is in use (never for one the engine stopped).
 * `atStart`: found dead by `recover` (it died while no engine watched), told once the
 * engine's runs are adopted; otherwise seen as it happened.
 */
export type MountHelperDeathListener = (owner: MountOwner, message: string, atStart: boolean) => void | Promise<void>;

/** How long a helper gets to exit after its mount is unmounted and it is sent SIGTERM, then again after SIGKILL. */
const stopGraceMs = 2_000;

/** A helper this engine watches: its record, the read end of its lifeline, and its end. */
interface Watched {
  entry: MountHelperEntry;
  lifeline: Socket;
  /** Resolves when every holder of the lifeline's write end is gone: the helper has exited. */
  gone: Promise<void>;
  /** The engine asked it to stop: its end is no fault. */
  stopping: boolean;
}

/**
 * Every mount of a storage driver's specs the engine makes goes through here: container
 * root filesystems (RootFilesystems, ContainerRoots), layer extraction (LayerUnpacker)
 * and the differ's views (SnapshotDiffer). Plain specs are mount(2) calls
 * (@berth/native's mountAll) and leave no trace here. A spec with a `helper` (a FUSE
 * filesystem, core's MountSpec.helper) is served by a process of its own, which this
 * service supervises as the runtime's shim is supervised:
 *
 * - **start**: its record (owner, target) is written to the ledger before the process
 *   exists and again with its pid and start time before the wait for `ready`, the
 *   process moved out of berthd's cgroup first (HelperCgroup: a service manager stopping
 *   berthd must not take the containers' filesystems with it); it gets
 *   the write end of its lifeline FIFO as fd 4, this engine keeps the read end in its
 *   event loop (one descriptor per helper, no polling, no thread);
 * - **death**: end-of-file on the lifeline. Asked for (unmount): the record goes. Not
 *   asked for: the dead mount is detached (no "Transport endpoint is not connected" left),
 *   the record goes, the error is logged and the death listeners told (the lifecycle
 *   stops the container and says why in its State.Error);
 * - **stop** (`unmount`): the mount is unmounted (the helper then exits by contract), its
 *   process group sent SIGTERM and, after a grace period, SIGKILL; resolves once gone;
 * - **restart** (`recover`, at engine start): a helper whose owner still wants its mount
 *   (a running or created container), that is still that process and still mounted, is
 *   adopted: its lifeline reopened, nothing remounted. Every other record is cleaned up:
 *   its process group killed (found by its argv when the pid was never recorded), its
 *   mount detached, its record removed; an owner that wanted it is told of its death.
 *
 * One helper per mount point; `close` stops watching and leaves every helper running
 * (the next engine adopts them).
 */
@injectable()
export class DriverMounts {
  private readonly ledger: MountHelperLedger;
  private readonly cgroup: HelperCgroup;
  private readonly watched = new Map<string, Watched>();
  private readonly listeners: MountHelperDeathListener[] = [];
  /** Deaths recovery found, told once the engine is up (`reportRecoveredDeaths`). */
  private readonly recoveredDeaths: Array<{ owner: MountOwner; message: string }> = [];
  private closed = false;

  constructor(
    @inject(EngineConfigToken) config: ResolvedEngineConfig,
    @inject(LoggerToken) private readonly log: Logger,
  ) {
    this.ledger = new MountHelperLedger(path.join(config.execRoot, 'mount-helpers'));
    this.cgroup = new HelperCgroup(config.cgroupParent, log);
  }

  /** Listen to helpers that die while their mount is in use. */
  onDeath(listener: MountHelperDeathListener): void {
    this.listeners.push(listener);
  }

  /** How many helpers this engine watches now (tests and bench/mount-helpers.js read it). */
  get helperCount(): number {
    return this.watched.size;
  }

  /** The record of the helper serving `target`, if one is watched. */
  helperOf(target: string): MountHelperEntry | undefined {
    return this.watched.get(this.ledger.keyOf(target))?.entry;
  }

  /**
   * Perform `specs` on `target` for `owner`. Without a helper spec: mountAll, nothing
   * recorded. With one (at most one per target): recorded, started and watched as the
   * class comment says; on failure nothing is left mounted, running or recorded.
   */
  async mount(specs: MountSpec[], target: string, owner: MountOwner): Promise<void> {
    const helpers = specs.filter((s) => s.helper !== undefined);
    if (helpers.length === 0) {
      mountAll(specs, target);
      return;
    }
    if (helpers.length > 1) throw new InvalidArgument(`${helpers.length} mount helpers for ${target}: at most one per mount point`);
    const key = this.ledger.keyOf(target);
    if (this.watched.has(key)) throw new SystemError(`${target} is already served by mount helper ${this.watched.get(key)!.entry.pid}`);
    const entry: MountHelperEntry = { key, target, owner };
    this.ledger.write(entry);
    let readEnd = -1;
    let writeEnd = -1;
    try {
      const lifeline = this.ledger.lifelinePath(key);
      rmSync(lifeline, { force: true }); // a FIFO a crash left behind with no record
      mknodAt(AT.FDCWD, lifeline, constants.S_IFIFO | 0o600, 0, 0);
      // The read end first: a FIFO opened for writing without O_NONBLOCK would wait for a reader, and with it fails without one.
      readEnd = openSync(lifeline, constants.O_RDONLY | constants.O_NONBLOCK);
      writeEnd = openSync(lifeline, constants.O_WRONLY | constants.O_NONBLOCK);
      await mountAllAsync(specs, target, {
        logPath: this.ledger.logPath(key),
        inheritFds: [writeEnd],
        onSpawn: (helper) => {
          // Out of the daemon's cgroup first, before it forks what serves the mount.
          this.cgroup.join(helper.pid);
          entry.pid = helper.pid;
          entry.startTime = helper.startTime;
          entry.argv = helper.argv;
          this.ledger.write(entry);
        },
      });
      closeSync(writeEnd);
      writeEnd = -1;
      this.cgroup.joinTree(entry.pid!);
      this.watch(entry, readEnd);
      readEnd = -1;
      this.log.debug('mount helper ready', { target, pid: entry.pid, owner: describe(owner) });
    } catch (err) {
      if (writeEnd >= 0) closeSync(writeEnd);
      if (readEnd >= 0) closeSync(readEnd);
      this.ledger.remove(key);
      throw err;
    }
  }

  /**
   * Unmount `target` and everything below it; a helper serving it is stopped and gone
   * when this resolves (SystemError if it survives SIGKILL). Nothing mounted is fine.
   */
  async unmount(target: string): Promise<void> {
    const watched = this.watched.get(this.ledger.keyOf(target));
    // A helper that died before this stop (its container's exit may be noticed before its
    // lifeline's end) is a death to report, not a stop.
    if (watched && (await serving(watched.entry))) watched.stopping = true;
    unmountAll(target);
    if (!watched) return;
    await this.stop(watched);
  }

  private async stop(watched: Watched): Promise<void> {
    const { entry } = watched;
    const signal = (name: NodeJS.Signals) => {
      if (entry.pid !== undefined && entry.startTime !== undefined && isSameProcess(entry.pid, entry.startTime)) {
        try {
          process.kill(-entry.pid, name);
        } catch {
          // Gone meanwhile.
        }
      }
    };
    if (await settlesWithin(watched.gone, 50)) return exited(entry);
    signal('SIGTERM');
    if (await settlesWithin(watched.gone, stopGraceMs)) return exited(entry);
    this.log.warn('mount helper ignored SIGTERM: killing it', { target: entry.target, pid: entry.pid });
    signal('SIGKILL');
    if (await settlesWithin(watched.gone, stopGraceMs)) return exited(entry);
    throw new SystemError(`mount helper ${entry.pid} serving ${entry.target} is still running after SIGKILL`);
  }

  /** Keep the lifeline's read end in the event loop; its end-of-file is the helper's death. */
  private watch(entry: MountHelperEntry, readEnd: number): void {
    const lifeline = new Socket({ fd: readEnd, readable: true, writable: false });
    let resolveGone!: () => void;
    const watched: Watched = { entry, lifeline, gone: new Promise<void>((r) => (resolveGone = r)), stopping: false };
    this.watched.set(entry.key, watched);
    lifeline.on('data', () => {}); // helpers write nothing on it; whatever comes is dropped
    lifeline.on('error', () => {}); // a read error ends it too ('close' follows)
    lifeline.once('close', () => {
      if (this.closed) return; // the engine is going: the helper outlives it
      this.watched.delete(entry.key);
      resolveGone();
      this.ended(watched).catch((err) =>
        this.log.error('cannot clean up after a mount helper', { target: entry.target, error: String(err) }),
      );
    });
  }

  /** A watched helper is gone: its record goes; if nobody asked, its dead mount too, and the listeners are told. */
  private async ended(watched: Watched): Promise<void> {
    const { entry } = watched;
    if (watched.stopping) {
      this.ledger.remove(entry.key);
      return;
    }
    const message = this.deathMessage(entry);
    this.log.error('mount helper died while its mount was in use', { target: entry.target, pid: entry.pid, owner: describe(entry.owner) });
    try {
      unmountAll(entry.target);
    } catch (err) {
      this.log.error('cannot remove the dead mount of a mount helper', { target: entry.target, error: String(err) });
    }
    this.ledger.remove(entry.key);
    await this.tell(entry.owner, message);
  }

  private deathMessage(entry: MountHelperEntry): string {
    const program = entry.argv?.[0] ?? 'mount helper';
    return `mount helper ${program} (pid ${entry.pid ?? '?'}) serving ${entry.target} exited while it was in use; last lines of its log:\n${logTail(this.ledger.logPath(entry.key), 5)}`;
  }

  private async tell(owner: MountOwner, message: string, atStart = false): Promise<void> {
    for (const listener of this.listeners) {
      try {
        await listener(owner, message, atStart);
      } catch (err) {
        this.log.error('mount helper death listener failed', { owner: describe(owner), error: String(err) });
      }
    }
  }

  /**
   * At engine start, before anything mounts: adopt the helpers whose owner still wants
   * its mount (`wanted`), clean up every other record (class comment). Deaths of wanted
   * helpers are kept for `reportRecoveredDeaths`.
   */
  recover(wanted: (owner: MountOwner) => boolean): void {
    const { entries, unreadable } = this.ledger.list();
    for (const key of unreadable) {
      this.log.error('unreadable mount helper record removed', { file: path.join(this.ledger.dir, `${key}.json`) });
      this.ledger.remove(key);
    }
    for (const entry of entries) {
      const alive = entry.pid !== undefined && entry.startTime !== undefined && isSameProcess(entry.pid, entry.startTime);
      if (wanted(entry.owner) && alive && isMountPoint(entry.target)) {
        let readEnd: number;
        try {
          readEnd = openSync(this.ledger.lifelinePath(entry.key), constants.O_RDONLY | constants.O_NONBLOCK);
        } catch (err) {
          this.log.error('cannot reopen a mount helper lifeline', { target: entry.target, error: String(err) });
          this.discard(entry, false);
          this.recoveredDeaths.push({ owner: entry.owner, message: `mount helper serving ${entry.target} lost: ${String(err)}` });
          continue;
        }
        this.log.info('mount helper adopted', { target: entry.target, pid: entry.pid, owner: describe(entry.owner) });
        // No writer left (it died just now): the lifeline ends at once and `ended` reports it.
        this.watch(entry, readEnd);
        continue;
      }
      if (wanted(entry.owner)) {
        this.recoveredDeaths.push({ owner: entry.owner, message: this.deathMessage(entry) });
        this.log.error('mount helper found dead at start', { target: entry.target, pid: entry.pid, owner: describe(entry.owner) });
      } else {
        this.log.warn('stopping a mount helper nothing owns any more', {
          target: entry.target,
          pid: entry.pid,
          owner: describe(entry.owner),
        });
      }
      this.discard(entry, alive);
    }
  }

  /** Tell the listeners of the deaths `recover` found (once the engine can act on them). */
  async reportRecoveredDeaths(): Promise<void> {
    for (const { owner, message } of this.recoveredDeaths.splice(0)) await this.tell(owner, message, true);
  }

  /** Kill a recorded helper's process group (found by its argv when its pid was never written), detach its mount, drop its record. */
  private discard(entry: MountHelperEntry, alive: boolean): void {
    const pids = alive ? [entry.pid!] : entry.pid === undefined ? helpersByTarget(entry.target) : [];
    for (const pid of pids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone.
        }
      }
    }
    try {
      unmountAll(entry.target);
    } catch (err) {
      this.log.error('cannot unmount what a mount helper served', { target: entry.target, error: String(err) });
    }
    this.ledger.remove(entry.key);
  }

  /** Stop watching: the helpers keep serving, for the next engine to adopt; the helper cgroup goes when empty (HelperCgroup.close). */
  async close(): Promise<void> {
    this.closed = true;
    const serving = this.watched.size > 0;
    for (const watched of this.watched.values()) watched.lifeline.destroy();
    this.watched.clear();
    await this.cgroup.close(serving);
  }
}

/**
 * Processes whose argv holds `target` as a whole argument after the program: a helper
 * spawned by an engine that died before it wrote the pid. A scan of /proc, at recovery
 * only, for records without a pid (a window of microseconds).
 */
function helpersByTarget(target: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (!argv.slice(1).includes(target)) continue;
      // Helpers lead a session of their own: anything else naming the path is not one.
      if (readProcStat(name)?.session === Number(name)) found.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/**
 * The helper's exit itself, after its lifeline ended: the lifeline ends as the process
 * closes its files, a step of its exit before the end, and a helper preempted in between
 * on a loaded machine still holds its cgroup. Bounded: a process that lost its files is
 * not coming back.
 */
async function exited(entry: MountHelperEntry): Promise<void> {
  if (entry.pid === undefined || entry.startTime === undefined) return;
  const deadline = Date.now() + stopGraceMs;
  while (isSameProcess(entry.pid, entry.startTime) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
}

/**
 * The helper still runs and its mount answers (a dead FUSE mount answers ENOTCONN; one its
 * helper removed is no mount). The stat goes to the thread pool with a time limit: a
 * server that hangs holds a pool thread for a while, never the event loop, and counts as
 * serving (it is being stopped, not dead).
 */
async function serving(entry: MountHelperEntry): Promise<boolean> {
  if (entry.pid === undefined || entry.startTime === undefined || !isSameProcess(entry.pid, entry.startTime)) return false;
  // The stat before the mount-table check: a helper that removes its dead mount meanwhile
  // makes the stat succeed on the directory beneath, and then the check sees no mount.
  const answered = fs.stat(entry.target).then(
    () => true,
    () => false,
  );
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), 200);
  });
  try {
    return (await Promise.race([answered, hung])) && isMountPoint(entry.target);
  } finally {
    clearTimeout(timer);
  }
}

function describe(owner: MountOwner): string {
  return owner.kind === 'container' ? `container ${owner.id}` : owner.purpose;
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const DriverMountsToken = token<DriverMounts>('DriverMounts');
