/**
 * How long a client may take and how many connections it may hold. Every limit bounds
 * *idleness* or a count, never the duration of a request: `docker load` of a big image,
 * `docker import` or a build context may upload for many minutes, and `/events`,
 * `logs -f` and attach sessions are meant to stay open for days.
 */
export interface ServerLimits {
  /**
   * Connections held at once (ordinary, streaming and hijacked). Past it a new
   * connection first evicts the connection that has been idle longest (no request in
   * flight); only when every connection is busy is it refused with a 503 and a JSON
   * message. So a flood of idle sockets can never keep `docker run` out.
   */
  maxConnections: number;
  /**
   * From accepting a connection, or from the first byte of a request, until its headers
   * are complete. Ends slowloris clients that dribble headers or never send any.
   */
  headersTimeoutMs: number;
  /** A keep-alive connection with no request in flight is closed after this long. */
  idleTimeoutMs: number;
  /**
   * An upload (a request body not yet complete) that sends nothing for this long while
   * the server waits for it is answered 408 and closed. Time the server spends not
   * reading (the engine writing a layer) does not count.
   */
  bodyIdleTimeoutMs: number;
  /** Size of a request's headers; past it Node answers 431. */
  maxHeaderBytes: number;
}

/**
 * The defaults, chosen for a daemon on a local socket (see the package README for the
 * reasoning): dockerd sets none of these and keeps half-sent requests and idle
 * sockets forever.
 */
export const defaultServerLimits: Readonly<ServerLimits> = Object.freeze({
  // Thousands of `logs -f` / `events` followers on a busy host fit; berthd clips it to
  // what its file descriptor limit allows.
  maxConnections: 4096,
  // A real client sends its headers in one write; 10 s is a loaded machine's worst.
  headersTimeoutMs: 10_000,
  // Longer than a CLI's pause between calls, far shorter than Go's 90 s client-side idle
  // timeout, so the client rarely races the server's close.
  idleTimeoutMs: 30_000,
  // A client that sent nothing for a minute while we waited is gone or hostile.
  bodyIdleTimeoutMs: 60_000,
  // Node's default is 16 KiB; X-Registry-Config (every registry credential, for a
  // build) can outgrow it. Go's server allows 1 MiB; 64 KiB bounds a flood's memory.
  maxHeaderBytes: 64 * 1024,
});

/** The limits with `overrides` applied; a value that is not a positive number is an error naming it. */
export function resolveServerLimits(overrides: Partial<ServerLimits> = {}): ServerLimits {
  const limits = { ...defaultServerLimits, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new Error(`server limit ${name} must be a positive number, got ${String(value)}`);
    }
  }
  return limits;
}
