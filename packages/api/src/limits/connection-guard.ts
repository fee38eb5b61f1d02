import type * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@berth/core';
import type { ServerLimits } from './server-limits.js';

interface Tracked {
  socket: Socket;
  /** Responses not closed yet, oldest first (pipelined requests each have one). */
  responses: http.ServerResponse[];
  /** Left HTTP for a raw stream (attach): busy for as long as it lives. */
  hijacked: boolean;
  /** When it was accepted (ms); it must send its first byte within `headersTimeoutMs` of this. */
  acceptedAt: number;
}

/** What a guard has done since it was installed, for benchmarks and `/info`-style reports. */
export interface ConnectionStats {
  /** Connections accepted since the server started (admitted or refused): its churn. */
  accepted: number;
  /** Connections held now. */
  open: number;
  /** Of them, with no request in flight. */
  idle: number;
  /** Idle connections closed to make room for a new one. */
  evicted: number;
  /** Connections refused with a 503 because every held one was busy. */
  refused: number;
  /** Connections closed because their first request's headers did not arrive in time. */
  headersTimedOut: number;
}

/** How long a refused or timed-out socket may linger to read its answer before it is destroyed. */
const lingerMs = 1000;
/** At most one warning per this period about the connection limit, however big the flood. */
const warnEveryMs = 60_000;

/** A silent socket's errors (a reset) end it; 'close' follows and forgets it. */
function ignoreError(): void {}

/**
 * Keeps an HTTP server's connections within `limits.maxConnections` and ends those that
 * never send a request. Node's own `maxConnections` drops the surplus without a word and
 * counts an idle socket as much as a busy one; this guard instead makes room by closing
 * the connection idle longest (no request in flight: a keep-alive socket between
 * requests, or one that has not finished its headers), and refuses with a 503 and a JSON
 * message only when every held connection is busy (a request in flight, a streaming
 * response such as `/events` or `logs -f`, a hijacked attach). A flood of idle sockets
 * therefore cannot keep a new `docker run` out, and long-lived streams are never cut.
 *
 * An admitted socket stays a bare socket until its first bytes arrive; only then is it
 * handed to the HTTP server (its parser, listeners and connection tracking), with those
 * bytes put back in front. A socket that never sends anything (what a flood is made
 * of) therefore costs a third of the memory and half the CPU of an HTTP connection, and
 * evicting it is one close; measured, the scavenges that copied the flood's HTTP
 * connections were most of berthd's pauses during it. Sockets still silent
 * `headersTimeoutMs` after they were accepted are answered 408 and closed by one sweep
 * (in accept order, so it stops at the first that still has time); once handed over,
 * Node's `headersTimeout` bounds the headers, counted from their first byte.
 *
 * Lifecycle: construct with the server, `install()` once before it accepts (it takes
 * the server's own `connection` listeners and calls them for admitted sockets once
 * they speak), `hijacked(socket)` when a socket leaves HTTP, `close()` with the server
 * (it destroys the sockets not handed over, which the server does not know).
 */
export class ConnectionGuard {
  private readonly all = new Map<Socket, Tracked>();
  /** Idle connections, longest idle first (a Map keeps insertion order; one becoming idle is re-inserted last). */
  private readonly idle = new Map<Socket, Tracked>();
  /** Admitted sockets that have not sent a byte yet, oldest first. */
  private readonly silent = new Map<Socket, Tracked>();
  private readonly lingering = new Set<Socket>();
  private counts = { accepted: 0, evicted: 0, refused: 0, headersTimedOut: 0 };
  private lastWarning = 0;
  private sweeper: NodeJS.Timeout | undefined;
  /** The server's own `connection` listeners (Node's HTTP setup), run when a socket first speaks. */
  private inner: Array<(socket: Socket) => void> = [];
  // Shared by every socket (Node calls them with the socket as `this`), so a silent
  // socket costs no closures of its own.
  private readonly onSocketClose: (this: Socket) => void;
  private readonly onFirstBytes: (this: Socket, chunk: Buffer) => void;
  private readonly onSilentEnd: (this: Socket) => void;

  constructor(
    private readonly server: http.Server,
    private readonly limits: ServerLimits,
    private readonly log: Logger,
    /** The whole HTTP response a refused connection gets. */
    private readonly refusal: (limit: number) => string,
    /** The whole HTTP response a connection gets when its first request's headers are late. */
    private readonly headersLate: (timeoutMs: number) => string,
  ) {
    const guard = this;
    this.onSocketClose = function (this: Socket) {
      const t = guard.all.get(this);
      if (t) guard.forget(t);
    };
    this.onFirstBytes = function (this: Socket, chunk: Buffer) {
      guard.handOver(this, chunk);
    };
    // A client that closes without a word: the server end is half-open (HTTP servers allow it), so close it.
    this.onSilentEnd = function (this: Socket) {
      this.destroy();
    };
  }

  install(): void {
    this.inner = this.server.rawListeners('connection') as Array<(socket: Socket) => void>;
    this.server.removeAllListeners('connection');
    this.server.on('connection', (socket: Socket) => this.admit(socket));
    this.server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.requestStarted(req.socket, res));
  }

  /** The socket left HTTP for a raw stream: it is busy until it closes. */
  hijacked(socket: Socket): void {
    const t = this.all.get(socket);
    if (!t) return;
    t.hijacked = true;
    this.idle.delete(socket);
  }

  /** True while the socket has a request in flight or is hijacked (raw bytes written to it now would interleave). */
  busy(socket: Socket): boolean {
    const t = this.all.get(socket);
    return !!t && (t.responses.length > 0 || t.hijacked);
  }

  /**
   * The response of the one request in flight on `socket`, when nothing of it was sent
   * yet: the request whose body the parser just refused, which can still be answered.
   */
  unanswered(socket: Socket): http.ServerResponse | undefined {
    const t = this.all.get(socket);
    if (t?.responses.length !== 1) return undefined;
    const res = t.responses[0]!;
    return res.headersSent ? undefined : res;
  }

  stats(): ConnectionStats {
    return { open: this.all.size, idle: this.idle.size, ...this.counts };
  }

  /** Counts a connection Node's HTTP server closed because its headers were late (it answers them itself). */
  headersTimedOut(): void {
    this.counts.headersTimedOut++;
  }

  /**
   * Stops the sweep, destroys the sockets it was letting linger and those never handed
   * to the server (which does not know them); the server closes the rest.
   */
  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const t of this.silent.values()) t.socket.destroy();
    this.silent.clear();
    for (const socket of this.lingering) socket.destroy();
    this.lingering.clear();
  }

  private admit(socket: Socket): void {
    this.counts.accepted++;
    if (this.all.size >= this.limits.maxConnections) {
      const oldest = this.idle.values().next();
      if (oldest.done) {
        this.counts.refused++;
        this.warn('refusing connections');
        this.linger(socket, this.refusal(this.limits.maxConnections));
        return;
      }
      this.counts.evicted++;
      this.warn('closing idle connections to make room');
      this.forget(oldest.value);
      oldest.value.socket.destroy();
    }
    const t: Tracked = { socket, responses: [], hijacked: false, acceptedAt: Date.now() };
    this.all.set(socket, t);
    this.idle.set(socket, t);
    this.silent.set(socket, t);
    socket.on('close', this.onSocketClose);
    socket.on('error', ignoreError);
    socket.on('end', this.onSilentEnd);
    socket.on('data', this.onFirstBytes);
    this.sweeper ??= setInterval(() => this.sweep(), Math.max(100, Math.min(1000, this.limits.headersTimeoutMs / 4))).unref();
  }

  /**
   * The socket's first bytes arrived: Node's HTTP setup runs now, and the bytes are put
   * back in front of the stream, where its parser reads them first.
   */
  private handOver(socket: Socket, chunk: Buffer): void {
    socket.removeListener('data', this.onFirstBytes);
    socket.removeListener('end', this.onSilentEnd);
    socket.removeListener('error', ignoreError);
    socket.pause();
    socket.unshift(chunk);
    this.silent.delete(socket);
    for (const listener of this.inner) listener.call(this.server, socket);
    socket.resume();
  }

  /** Answers 408 and closes the sockets still silent `headersTimeoutMs` after they were accepted. */
  private sweep(): void {
    const deadline = Date.now() - this.limits.headersTimeoutMs;
    for (const t of this.silent.values()) {
      if (t.acceptedAt > deadline) break;
      this.counts.headersTimedOut++;
      this.forget(t);
      t.socket.removeListener('data', this.onFirstBytes);
      this.linger(t.socket, this.headersLate(this.limits.headersTimeoutMs));
    }
    if (this.silent.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private requestStarted(socket: Socket, res: http.ServerResponse): void {
    const t = this.all.get(socket);
    if (!t) return;
    t.responses.push(res);
    this.idle.delete(socket);
    res.once('close', () => {
      t.responses.splice(t.responses.indexOf(res), 1);
      if (t.responses.length === 0 && !t.hijacked && !socket.destroyed && this.all.has(socket)) this.idle.set(socket, t);
    });
  }

  private forget(t: Tracked): void {
    this.all.delete(t.socket);
    this.idle.delete(t.socket);
    this.silent.delete(t.socket);
  }

  /**
   * Answers and closes a socket outside HTTP. It keeps reading (and discarding) for a
   * moment so the client is not reset before it reads the answer, then is destroyed.
   */
  private linger(socket: Socket, response: string): void {
    this.lingering.add(socket);
    socket.on('error', () => {});
    socket.resume();
    socket.end(response);
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      this.lingering.delete(socket);
    });
  }

  private warn(what: string): void {
    const now = Date.now();
    if (now - this.lastWarning < warnEveryMs) return;
    this.lastWarning = now;
    this.log.warn(`connection limit of ${this.limits.maxConnections} reached: ${what}`, { ...this.stats() });
  }
}
