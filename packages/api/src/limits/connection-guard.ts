import type * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@berth/core';
import type { ServerLimits } from './server-limits.js';

interface Tracked {
  socket: Socket;
  /** Responses not closed yet, oldest first (pipelined requests each have one). */
  responses: http.ServerResponse[];
  /** Requests whose headers arrived on this connection. */
  served: number;
  /** Left HTTP for a raw stream (attach): busy for as long as it lives. */
  hijacked: boolean;
  /** Ends a connection that never completes its first request's headers. */
  firstRequest: NodeJS.Timeout | undefined;
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
 * Lifecycle: construct with the server, `install()` once before it accepts (it takes
 * the server's own `connection` listeners and calls them only for admitted sockets),
 * `hijacked(socket)` when a socket leaves HTTP, `close()` with the server.
 */
export class ConnectionGuard {
  private readonly all = new Map<Socket, Tracked>();
  /** Idle connections, longest idle first (a Map keeps insertion order; one becoming idle is re-inserted last). */
  private readonly idle = new Map<Socket, Tracked>();
  private readonly lingering = new Set<Socket>();
  private counts = { accepted: 0, evicted: 0, refused: 0, headersTimedOut: 0 };
  private lastWarning = 0;

  constructor(
    private readonly server: http.Server,
    private readonly limits: ServerLimits,
    private readonly log: Logger,
    /** The whole HTTP response a refused connection gets. */
    private readonly refusal: (limit: number) => string,
    /** The whole HTTP response a connection gets when its first request's headers are late. */
    private readonly headersLate: (timeoutMs: number) => string,
  ) {}

  install(): void {
    const inner = this.server.rawListeners('connection') as Array<(socket: Socket) => void>;
    this.server.removeAllListeners('connection');
    this.server.on('connection', (socket: Socket) => {
      if (!this.admit(socket)) return;
      for (const listener of inner) listener.call(this.server, socket);
    });
    this.server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.requestStarted(req.socket, res));
  }

  /** The socket left HTTP for a raw stream: it is busy until it closes. */
  hijacked(socket: Socket): void {
    const t = this.all.get(socket);
    if (!t) return;
    t.hijacked = true;
    this.clearFirstRequest(t);
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

  /** Forgets every connection and destroys those it was letting linger; the server closes the rest. */
  close(): void {
    for (const t of this.all.values()) this.clearFirstRequest(t);
    for (const socket of this.lingering) socket.destroy();
    this.lingering.clear();
  }

  private admit(socket: Socket): boolean {
    this.counts.accepted++;
    if (this.all.size >= this.limits.maxConnections) {
      const oldest = this.idle.values().next();
      if (oldest.done) {
        this.counts.refused++;
        this.warn('refusing connections');
        this.linger(socket, this.refusal(this.limits.maxConnections));
        return false;
      }
      this.counts.evicted++;
      this.warn('closing idle connections to make room');
      this.forget(oldest.value);
      oldest.value.socket.destroy();
    }
    const t: Tracked = { socket, responses: [], served: 0, hijacked: false, firstRequest: undefined };
    t.firstRequest = setTimeout(() => {
      t.firstRequest = undefined;
      if (t.served > 0 || t.hijacked || socket.destroyed) return;
      this.counts.headersTimedOut++;
      this.forget(t);
      this.linger(socket, this.headersLate(this.limits.headersTimeoutMs));
    }, this.limits.headersTimeoutMs);
    t.firstRequest.unref();
    this.all.set(socket, t);
    this.idle.set(socket, t);
    socket.once('close', () => this.forget(t));
    return true;
  }

  private requestStarted(socket: Socket, res: http.ServerResponse): void {
    const t = this.all.get(socket);
    if (!t) return;
    t.served++;
    t.responses.push(res);
    this.clearFirstRequest(t);
    this.idle.delete(socket);
    res.once('close', () => {
      t.responses.splice(t.responses.indexOf(res), 1);
      if (t.responses.length === 0 && !t.hijacked && !socket.destroyed && this.all.has(socket)) this.idle.set(socket, t);
    });
  }

  private forget(t: Tracked): void {
    this.clearFirstRequest(t);
    this.all.delete(t.socket);
    this.idle.delete(t.socket);
  }

  private clearFirstRequest(t: Tracked): void {
    if (t.firstRequest) clearTimeout(t.firstRequest);
    t.firstRequest = undefined;
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
