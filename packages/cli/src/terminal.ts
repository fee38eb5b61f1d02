import type { Attachment } from '@berth/client';
import { DetachKeyScanner, defaultDetachKeys, parseDetachKeys } from '@berth/core/detach-keys';
import type { CliIo } from './io.js';

/*
 * The client side of an interactive container or exec: stdin copied to the attachment
 * (half-closed at its end), the local terminal in raw mode while the remote one has a tty,
 * the remote size kept to the local one (at start and on SIGWINCH), and docker's detach
 * keys watched for on a terminal's input. Only `exec`, `attach`, `run -i/-t` and
 * `start -i/-a` load this module.
 */

/** The terminal size of the CLI's stdout, when it is a terminal. */
export function terminalSize(io: CliIo): { rows: number; columns: number } | undefined {
  const out = io.stdout as { isTTY?: boolean; rows?: number; columns?: number };
  if (!out.isTTY || !out.rows || !out.columns) return undefined;
  return { rows: out.rows, columns: out.columns };
}

export interface InteractiveOptions {
  /** Whether the remote side has a terminal (raw mode here, resizes there). */
  tty: boolean;
  /** Whether stdin is copied to the attachment. */
  stdin: boolean;
  /** Detach keys watched for on a terminal's input (`ctrl-p,ctrl-q` unless given). */
  detachKeys?: string;
  /** Sends the terminal size to the daemon (container or exec resize). */
  resize?: (rows: number, columns: number) => Promise<void>;
}

/**
 * One interactive session. `begin()` puts the local terminal in raw mode and starts the
 * stdin copy; `watchSize()` (after start: a process must exist to be resized) sends the
 * size now and on every SIGWINCH; when the user types the detach keys the attachment is
 * closed (its output ends) and `wasDetached` says so; `end()` restores the terminal and stops everything.
 */
export class InteractiveSession {
  /** Whether the user typed the detach keys. */
  wasDetached = false;
  private cleanups: Array<() => void> = [];

  constructor(
    private readonly io: CliIo,
    private readonly att: Attachment,
    private readonly options: InteractiveOptions,
  ) {}

  begin(): void {
    const { io, att, options } = this;
    if (!options.stdin) return;
    const stdin = io.stdin as NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
    const local = stdin.isTTY === true;
    if (options.tty && local && stdin.setRawMode) {
      stdin.setRawMode(true);
      // libuv's raw mode keeps output processing (ONLCR), so the remote pty's \r\n would
      // reach the screen as \r\r\n; docker's (cfmakeraw) turns it off. setRawMode(false)
      // restores the saved settings, this one included.
      if ((stdin as { fd?: number }).fd === 0)
        (require('node:child_process') as typeof import('node:child_process')).spawnSync('stty', ['-opost'], {
          stdio: ['inherit', 'ignore', 'ignore'],
        });
      this.cleanups.push(() => stdin.setRawMode?.(false));
    }
    // Detach keys only on a terminal: piped bytes are data, never a keystroke.
    const watcher = local ? new DetachKeyScanner(parseDetachKeys(options.detachKeys || defaultDetachKeys)) : undefined;
    const onData = (chunk: Buffer | string): void => {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (!watcher) return void att.write(data);
      const { pass, detach } = watcher.push(data);
      if (pass.length) att.write(pass);
      if (detach) {
        this.wasDetached = true;
        att.close();
      }
    };
    const onEnd = (): void => att.closeStdin();
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
    this.cleanups.push(() => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
    });
  }

  watchSize(): void {
    const { io, options } = this;
    const resize = options.resize;
    if (!options.tty || !resize) return;
    const send = (): void => {
      const size = terminalSize(io);
      if (size)
        resize(size.rows, size.columns).catch(() => {
          // The process may be gone already; its exit tells the story.
        });
    };
    send();
    if (io.onWindowChange) this.cleanups.push(io.onWindowChange(send));
  }

  end(): void {
    for (const cleanup of this.cleanups.splice(0).reverse()) cleanup();
  }
}

/** Docker refuses `-t` with stdin attached but not a terminal. */
export function inputNotATerminal(io: CliIo, tty: boolean, stdin: boolean): boolean {
  return tty && stdin && io.stdin.isTTY !== true;
}
