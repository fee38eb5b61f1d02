/** A writable the CLI prints to; `isTTY` as on process.stdout. */
export type Output = NodeJS.WritableStream & { isTTY?: boolean };

/**
 * Everything the CLI touches outside itself, so a test can run `main()` in-process with
 * captured output, a chosen environment and a fixed clock.
 */
export interface CliIo {
  stdout: Output;
  stderr: Output;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  /** Milliseconds since the epoch (for "5 seconds ago"). */
  now(): number;
  /** Delivers the signals `run` forwards to its container; returns the unsubscribe. */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void;
  /** Calls `handler` when the terminal's size changes (SIGWINCH); returns the unsubscribe. */
  onWindowChange?(handler: () => void): () => void;
}

/** Signals `run` and `start -a` forward to the container (docker's sig-proxy). */
export const PROXIED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** The process streams the CLI has used (see processIo); only these need flushing at exit. */
const usedOutputs = new Set<Output>();

/**
 * The real process's streams, environment, clock and signals. The streams are getters:
 * Node makes process.stdout and process.stderr on first use (~0.3-0.6 ms each, more for
 * a tty), which a command that prints nothing never pays, and `run` pays only after it
 * has sent its start request, while the daemon works.
 */
export function processIo(): CliIo {
  return {
    get stdout() {
      const out = process.stdout;
      if (!usedOutputs.has(out)) {
        usedOutputs.add(out);
        // Like a Go program killed by SIGPIPE: `berth ps | head -1` ends quietly, status 141.
        out.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'EPIPE') process.exit(141);
          throw err;
        });
      }
      return out;
    },
    get stderr() {
      usedOutputs.add(process.stderr);
      return process.stderr;
    },
    // A getter: touching process.stdin sets up a handle, which most commands never need.
    get stdin() {
      return process.stdin;
    },
    env: process.env,
    now: () => Date.now(),
    onSignal(handler) {
      const listeners = PROXIED_SIGNALS.map((sig) => {
        const l = (): void => handler(sig);
        process.on(sig, l);
        return [sig, l] as const;
      });
      return () => {
        for (const [sig, l] of listeners) process.off(sig, l);
      };
    },
    onWindowChange(handler) {
      const l = (): void => handler();
      process.on('SIGWINCH', l);
      return () => process.off('SIGWINCH', l);
    },
  };
}

/**
 * Resolves once what was written to the process streams the CLI used has been handed
 * to the OS (pipes and files are written synchronously on Linux; this also covers the
 * rest), so that exiting loses nothing; idle sockets or a read stdin must not keep the
 * process alive, which is why the CLI exits rather than waits for the event loop.
 */
export function flushOutput(): Promise<void> {
  return Promise.all([...usedOutputs].map((out) => new Promise<void>((resolve) => out.write('', () => resolve())))).then(() => undefined);
}
