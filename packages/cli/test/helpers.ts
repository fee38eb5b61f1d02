import { Readable, Writable } from 'node:stream';
import type { CliIo } from '../src/io.js';

/** Captured output of one in-process `main()` run. */
export interface TestIo extends CliIo {
  out(): string;
  err(): string;
  /** Sends a signal to whatever `run` subscribed. */
  signal(sig: NodeJS.Signals): void;
  subscribers(): number;
}

function capture(isTTY: boolean): Writable & { isTTY?: boolean; text(): string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  }) as Writable & { isTTY?: boolean; text(): string };
  w.isTTY = isTTY;
  w.text = () => Buffer.concat(chunks).toString();
  return w;
}

/** An io for `main(argv, io)`: output captured, stdin from `input` (or an empty, non-TTY stream), a fixed clock. */
export function testIo(
  options: {
    host?: string;
    input?: string | Buffer;
    stdinTTY?: boolean;
    stdoutTTY?: boolean;
    now?: number;
    env?: Record<string, string>;
  } = {},
): TestIo {
  const stdout = capture(options.stdoutTTY ?? false);
  const stderr = capture(false);
  const stdin = Readable.from(options.input === undefined ? [] : [Buffer.from(options.input)]) as Readable & { isTTY?: boolean };
  stdin.pause();
  stdin.isTTY = options.stdinTTY ?? false;
  const handlers = new Set<(s: NodeJS.Signals) => void>();
  return {
    stdout,
    stderr,
    stdin,
    env: { ...(options.host ? { BERTH_HOST: options.host } : {}), ...options.env },
    now: () => options.now ?? 1795378400_000,
    onSignal(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    out: () => stdout.text(),
    err: () => stderr.text(),
    signal: (sig) => {
      for (const h of handlers) h(sig);
    },
    subscribers: () => handlers.size,
  };
}

export const ID = `c0ffee${'0123456789abcdef'.repeat(3)}0123456789`;
