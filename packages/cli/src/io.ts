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
}

/** Signals `run` and `start -a` forward to the container (docker's sig-proxy). */
export const PROXIED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** The real process's streams, environment, clock and signals. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
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
  };
}
