import type { Attachment } from '@berth/client';
import type { CliIo } from './io.js';

/*
 * The client side of an interactive container or exec: stdin copied to the attachment
 * (half-closed at its end), the local terminal in raw mode while the remote one has a tty,
 * the remote size kept to the local one (at start and on SIGWINCH), and docker's detach
 * keys watched for on a terminal's input. Only `exec`, `attach`, `run -i/-t` and
 * `start -i/-a` load this module.
 */

/** Docker's default detach sequence. */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/**
 * The bytes typed for docker's detach keys: a comma-separated sequence of `ctrl-<c>`
 * (c in a-z, @, [, \, ], ^, _) and single characters. Throws docker's message otherwise.
 */
export function detachSequence(spec: string): Buffer {
  const bytes: number[] = [];
  const invalid = () => new Error(`Invalid detach keys (${spec}) provided`);
  for (const key of spec.split(',')) {
    const ctrl = /^ctrl-(.)$/.exec(key);
    if (ctrl) {
      const c = ctrl[1]!;
      // ctrl-a..ctrl-z are 1..26; ctrl-@ is 0 and ctrl-[ \ ] ^ _ are 27..31.
      const symbol = '@[\\]^_'.indexOf(c);
      if (c >= 'a' && c <= 'z') bytes.push(c.charCodeAt(0) - 96);
      else if (symbol >= 0) bytes.push(symbol === 0 ? 0 : 26 + symbol);
      else throw invalid();
    } else if (key.length === 1) bytes.push(key.charCodeAt(0));
    else throw invalid();
  }
  if (bytes.length === 0) throw invalid();
  return Buffer.from(bytes);
}

/**
 * Docker's escape proxy: bytes that could start the detach sequence are held back; the
 * whole sequence detaches (and is never sent), anything else releases what was held.
 */
export class DetachWatcher {
  private matched = 0;

  constructor(private readonly keys: Buffer) {}

  /** What to send on for `chunk`, and whether the sequence is now complete. */
  feed(chunk: Buffer): { pass: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { pass: Buffer.from(out), detach: true };
        continue;
      }
      if (this.matched > 0) {
        out.push(...this.keys.subarray(0, this.matched));
        this.matched = 0;
      }
      if (b === this.keys[0]) this.matched = 1;
      else out.push(b);
    }
    return { pass: Buffer.from(out), detach: false };
  }
}

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
    const watcher = local ? new DetachWatcher(detachSequence(options.detachKeys || DEFAULT_DETACH_KEYS)) : undefined;
    const onData = (chunk: Buffer | string): void => {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (!watcher) return void att.write(data);
      const { pass, detach } = watcher.feed(data);
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
