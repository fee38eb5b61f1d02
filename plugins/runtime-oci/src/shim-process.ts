import { constants } from 'node:os';
import type { ExitStatus, PreparedExecProcess, RuntimeProcess } from '@berth/core';
import { InvalidArgument, SystemError } from '@berth/core';
import { type PlannedProcess, planProcessDirectExec } from './direct-exec-plan.js';
import { runcWording } from './runtime-messages.js';
import type { ShimConnection } from './shim-connection.js';
import { lostExitStatus, readExitStatus } from './shim-state.js';

/**
 * An exec's process as its berth-shim (exec mode) holds it: the streams are the one
 * connection to the shim, `start` asks the shim to run `<runtime> exec` (a direct exec:
 * to run the process itself, see the shim's `--wait-start`), and the exit is
 * the shim closing that connection after writing exit.json; `kill` is the shim's
 * `kill <signal number>`. One connection per exec, for output, stdin, control requests
 * and the exit alike.
 */
export class ShimProcess implements RuntimeProcess {
  private readonly exited: Promise<ExitStatus>;

  constructor(
    readonly streams: ShimConnection,
    protected readonly stateDir: string,
    protected started = false,
  ) {
    this.exited = new Promise((resolve) => {
      // The shim sends the exit record after the last output, before it writes exit.json
      // and closes: told at once. A shim that died without one: exit.json or lost.
      streams.onExitRecord(resolve);
      streams.onClose(() => {
        // Dropped by this daemon (it is closing): the next one adopts the exec.
        if (streams.droppedByClient) return;
        resolve(readExitStatus(stateDir) ?? lostExitStatus());
      });
    });
  }

  async start(): Promise<{ pid: number }> {
    return this.startShim();
  }

  protected async startShim(): Promise<{ pid: number }> {
    if (this.started) throw new SystemError(`the exec in ${this.stateDir} was started already`);
    this.started = true;
    const reply = await this.streams.control('start');
    const pid = reply.startsWith('ok ') ? Number(reply.slice(3)) : 0;
    if (!(pid > 0)) throw new SystemError(`OCI runtime exec failed: ${runcWording(reply.replace(/^error: /, ''))}`);
    return { pid };
  }

  async kill(signal: string): Promise<void> {
    const number = signalNumber(signal);
    if (this.streams.isClosed) return; // exited (or dropped): nothing to signal
    let reply: string;
    try {
      reply = await this.streams.control(`kill ${number}`);
    } catch (err) {
      if (this.streams.isClosed) return; // the exit came first
      throw err;
    }
    if (reply !== 'ok') throw new SystemError(`cannot signal the exec in ${this.stateDir}: ${reply.replace(/^error: /, '')}`);
  }

  wait(): Promise<ExitStatus> {
    return this.exited;
  }
}

/**
 * A direct exec's monitor made before its exec was asked for (berth-shim's
 * `--process-later`, see `OciRuntime.prepareExec`): `bind` sends the process part of its
 * plan to the shim at once (at the exec's create), and the start is then the `start`
 * request alone.
 */
export class PreparedShimProcess extends ShimProcess implements PreparedExecProcess {
  private bound = false;

  /** False for what needs the runtime or a terminal (the shim's pipes are made at launch). */
  bind(process: Record<string, unknown>): boolean {
    if (this.bound) throw new InvalidArgument(`the exec in ${this.stateDir} was given its process already`);
    const p = process as PlannedProcess;
    const planned = p.terminal ? undefined : planProcessDirectExec(p);
    if (!planned || 'fallback' in planned) return false;
    this.streams.sendProcessPart(planned.part);
    this.bound = true;
    return true;
  }

  override async start(): Promise<{ pid: number }> {
    if (!this.bound) throw new InvalidArgument(`the exec in ${this.stateDir} was prepared: it has no process to run yet`);
    return this.startShim();
  }
}

/** `SIGKILL`, `KILL`, `kill` or `9` as a signal number; InvalidArgument for what names none. */
function signalNumber(signal: string): number {
  if (/^\d+$/.test(signal)) {
    const n = Number(signal);
    if (n > 0 && n <= 64) return n;
  } else {
    const name = signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
    const n = (constants.signals as Record<string, number>)[name];
    if (n !== undefined) return n;
  }
  throw new InvalidArgument(`invalid signal: ${signal}`);
}
