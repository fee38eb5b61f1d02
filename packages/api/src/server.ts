import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type EngineApi, InvalidArgument, type Logger, NotFound, silentLogger, statusOf } from '@berth/core';
import { API_VERSION, splitVersionPrefix } from './api-version.js';
import type { HijackHandler, RequestContext, RouteHandler, ServerScope } from './context.js';
import { EventHistory } from './events/event-history.js';
import { PayloadTooLarge, RequestTimeout } from './http-errors.js';
import { BodyIdleWatch } from './limits/body-idle-watch.js';
import { ConnectionGuard, type ConnectionStats } from './limits/connection-guard.js';
import { resolveServerLimits, type ServerLimits } from './limits/server-limits.js';
import { apiHeaders, errorBody, errorMessage, isClientError, rawResponse, sendError } from './respond.js';
import { type RouteModule, registerRouteModules } from './route-module.js';
import { type PathParams, Router } from './router.js';
import { defaultRoutes } from './routes/default-routes.js';

export interface ApiServerOptions {
  logger?: Logger;
  /** berth's version, reported in the `Server` header (`berth/<version> (linux)`). */
  serverVersion: string;
  /**
   * The route modules to serve, registered in this order (see `RouteModule` for what
   * the order decides). Default: `defaultRoutes`, every route berth has.
   */
  routes?: readonly RouteModule[];
  /** Timeouts and the connection limit; each one not given keeps `defaultServerLimits`' value. */
  limits?: Partial<ServerLimits>;
}

/** Where to listen: a UNIX socket path, or a TCP address (for tests and embedders; berthd serves UNIX sockets). */
export type ListenTarget = string | { host: string; port: number };

const pageNotFound = () => new NotFound('page not found');

/**
 * Connections the kernel queues before berthd accepts them (capped by
 * net.core.somaxconn, which Go servers such as dockerd use whole). Node's 511 fills
 * during a burst of connects, and a client connecting then gets EAGAIN: the docker CLI
 * reports that as "Cannot connect to the Docker daemon".
 */
const listenBacklog = 4096;

/** How long a connection answered with an error outside HTTP (a malformed request) may linger to read it. */
const lingerMs = 1000;

/**
 * Ends a request whose body will never complete, once its answer had a moment to go out.
 * Destroying it is what makes a handler still reading it (the engine's `load`, which
 * then removes what it had begun) fail with `err`: once the response is finished, Node
 * no longer aborts the request when the connection closes, so without this it would
 * wait forever, holding its file descriptors.
 */
function abandonBody(req: http.IncomingMessage, err: Error): void {
  setTimeout(() => req.destroy(err), lingerMs).unref();
}

/** Errors after which the rest of the request is not worth reading: answer, then close. */
const closesConnection = (err: unknown) => err instanceof PayloadTooLarge || err instanceof RequestTimeout;

/**
 * The Docker Engine API (1.41) over HTTP for one engine. It holds no state of its own
 * beyond a short window of recent events for `/events?since=`; every answer comes from
 * the engine. Lifecycle: construct, `listen()` once, `close()` once (stops accepting,
 * cuts every open connection including hijacked attach streams, which detaches them:
 * containers keep running).
 *
 * Hostile or broken clients are bounded by `ServerLimits`: headers must arrive in time,
 * idle keep-alive connections and stalled uploads are closed, connections past the
 * limit make room by evicting idle ones or are refused with a 503; a malformed request
 * gets a JSON 400 (431, 408, 413 where they apply). A client that goes away mid-request
 * is logged once at debug level; an unexpected error is logged once with its stack and
 * answered 500 with its message alone.
 */
export class ApiServer {
  /** The underlying Node server, for embedders that want to listen themselves. */
  readonly server: http.Server;
  private readonly scope: ServerScope;
  private readonly routes = new Router<RouteHandler>();
  private readonly hijackRoutes = new Router<HijackHandler>();
  private readonly hijacked = new Set<Duplex>();
  private readonly limits: ServerLimits;
  private readonly guard: ConnectionGuard;
  private readonly bodies: BodyIdleWatch;
  /** Requests already logged (a client abort, a stall, a failure): each is logged once. */
  private readonly logged = new WeakSet<http.IncomingMessage>();

  constructor(engine: EngineApi, options: ApiServerOptions) {
    this.limits = resolveServerLimits(options.limits);
    this.scope = {
      engine,
      log: options.logger ?? silentLogger,
      headers: apiHeaders(API_VERSION, options.serverVersion),
      serverVersion: options.serverVersion,
      eventHistory: new EventHistory(engine.events),
    };
    registerRouteModules(options.routes ?? defaultRoutes, this.routes, this.hijackRoutes);

    const { limits } = this;
    this.server = http.createServer({
      // Uploads (load, import, a build context) may take many minutes: their idleness is
      // bounded (BodyIdleWatch), not their duration. headersTimeout must then be set on
      // its own, as Node derives it from requestTimeout and 0 would turn it off too.
      requestTimeout: 0,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // How often Node looks for late headers; its default of 30 s would triple a short timeout.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeoutMs / 4)),
    });
    this.bodies = new BodyIdleWatch(limits.bodyIdleTimeoutMs);
    const { headers } = this.scope;
    this.guard = new ConnectionGuard(
      this.server,
      limits,
      this.scope.log,
      (max) =>
        rawResponse(
          503,
          headers,
          'application/json',
          errorBody(`too many connections: all ${max} the server holds are busy; try again later`),
        ),
      (ms) => rawResponse(408, headers, 'application/json', errorBody(`request headers not received within ${ms / 1000} s`)),
    );
    this.guard.install();
    // Node's default (no half-open for plain HTTP) is kept on purpose: a client FIN is how
    // a departed `logs -f` or `events` client is noticed while nothing is being written.
    // Hijacked sockets are half-open regardless (the net server underneath is).
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket));
  }

  /** Connections held, idle, evicted and refused so far (benchmarks, diagnostics). */
  connectionStats(): ConnectionStats {
    return this.guard.stats();
  }

  listen(target: ListenTarget): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      const done = () => {
        this.server.off('error', onError);
        resolve();
      };
      if (typeof target === 'string') this.server.listen({ path: target, backlog: listenBacklog }, done);
      else this.server.listen({ port: target.port, host: target.host, backlog: listenBacklog }, done);
    });
  }

  /** Stops accepting, closes every connection (idle, busy and hijacked) and forgets the engine's events. */
  close(): Promise<void> {
    this.scope.eventHistory.close();
    const closed = new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
    this.server.closeAllConnections();
    this.guard.close();
    this.bodies.close();
    for (const socket of this.hijacked) socket.destroy();
    this.hijacked.clear();
    return closed;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    for (const [name, value] of this.scope.headers) res.setHeader(name, value);
    this.bodies.watch(req, () => this.stalled(req, res));
    res.once('close', () => {
      if (!res.writableFinished) this.clientGone(req);
    });
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const versioned = splitVersionPrefix(q === -1 ? url : url.slice(0, q));
    if (!versioned.ok) {
      const body = versioned.contentType === 'application/json' ? errorBody(versioned.message) : `${versioned.message}\n`;
      res.writeHead(versioned.status, {
        'Content-Type': versioned.contentType === 'application/json' ? 'application/json' : 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    // RFC 9112 §6.3: a request whose body is not chunked last has no knowable length, and
    // a proxy in front could read it differently (smuggling). Node's parser lets it through.
    const te = req.headers['transfer-encoding'];
    if (te !== undefined && !/(^|,)\s*chunked\s*$/i.test(te)) {
      res.setHeader('Connection', 'close');
      sendError(res, new InvalidArgument(`malformed HTTP request: unsupported Transfer-Encoding "${te}"`));
      return;
    }
    let ctx: RequestContext | undefined;
    try {
      const route = this.routes.match(req.method ?? 'GET', versioned.path);
      if (!route) throw pageNotFound();
      ctx = {
        scope: this.scope,
        req,
        res,
        params: route.params,
        query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
        apiVersion: versioned.version,
      };
      const done = route.handler(ctx);
      if (done) done.catch((err: unknown) => this.fail(req, res, err));
    } catch (err) {
      this.fail(req, res, err);
    }
  }

  private fail(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
    // The connection is gone (the client left, or a stall closed it): whatever the handler
    // threw follows from that, and the close was logged once already.
    // A handler that destroyed the request (a tar reader giving up on a bad upload) leaves
    // the request without a socket, but the connection may well be alive, its client
    // still sending: it gets its answer on the response's socket, which then closes.
    const socket = req.socket ?? res.socket;
    if (!socket || socket.destroyed || res.destroyed) {
      this.clientGone(req);
      return;
    }
    const bodyAbandoned = !req.socket;
    if (!isClientError(err) && !this.logged.has(req)) {
      this.logged.add(req);
      this.scope.log.error('request failed', {
        method: req.method,
        url: req.url,
        status: statusOf(err),
        error: errorMessage(err),
        stack: err instanceof Error ? err.stack : undefined,
      });
    }
    if (!res.headersSent) {
      if ((closesConnection(err) || bodyAbandoned) && !req.complete) res.setHeader('Connection', 'close');
      sendError(res, err);
      // Nobody reads the rest of the upload: close once the client had time to read the answer.
      if (bodyAbandoned) res.once('finish', () => setTimeout(() => socket.destroy(), lingerMs).unref());
    }
    // Once a stream has started, cutting it is the only honest signal left.
    else if (!res.writableEnded) res.destroy();
  }

  /** A client that left mid-request: expected on a busy host, so one debug line, no stack. */
  private clientGone(req: http.IncomingMessage): void {
    if (this.logged.has(req)) return;
    this.logged.add(req);
    const when = req.complete ? 'before the response was complete' : 'while sending the request body';
    this.scope.log.debug(`client closed the connection ${when}`, { method: req.method, url: req.url });
  }

  /** The upload stopped arriving: answer 408 if nothing was sent yet, then close the connection. */
  private stalled(req: http.IncomingMessage, res: http.ServerResponse): void {
    const seconds = this.limits.bodyIdleTimeoutMs / 1000;
    if (!this.logged.has(req)) {
      this.logged.add(req);
      this.scope.log.debug(`request body stalled: nothing received for ${seconds} s; closing the connection`, {
        method: req.method,
        url: req.url,
      });
    }
    const socket = req.socket;
    if (res.headersSent) {
      socket.destroy();
      return;
    }
    res.setHeader('Connection', 'close');
    const err = new RequestTimeout(`request body stalled: nothing received for ${seconds} s`);
    sendError(res, err);
    abandonBody(req, err);
  }

  /**
   * A request Node's parser refused (malformed, smuggling-shaped, headers too big or too
   * slow): a JSON answer with the reason and the connection closed. Nothing is answered
   * while a response is still going out on that connection, and nothing to a client that left.
   */
  private onClientError(err: NodeJS.ErrnoException & { reason?: string }, socket: Duplex): void {
    socket.on('error', () => {});
    const pending = this.guard.unanswered(socket as Socket);
    if (
      err.code === 'ECONNRESET' ||
      err.code === 'HPE_INVALID_EOF_STATE' ||
      !socket.writable ||
      (!pending && this.guard.busy(socket as Socket))
    ) {
      socket.destroy();
      return;
    }
    const [status, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, `request headers exceed ${this.limits.maxHeaderBytes} bytes`]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, `request headers not received within ${this.limits.headersTimeoutMs / 1000} s`]
          : err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
            ? [413, 'chunk extensions too large']
            : [400, `malformed HTTP request: ${err.reason ?? err.code ?? err.message}`];
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') this.guard.headersTimedOut();
    this.scope.log.debug('refused a malformed request', { status, error: message });
    if (pending) {
      // Its headers were fine and its handler is waiting for the body the parser refused:
      // the answer goes out as that request's response, so the framing stays right.
      this.logged.add(pending.req);
      pending.setHeader('Connection', 'close');
      const refused = status === 413 ? new PayloadTooLarge(message) : new InvalidArgument(message);
      sendError(pending, refused);
      abandonBody(pending.req, refused);
    } else {
      socket.end(rawResponse(status, this.scope.headers, 'application/json', errorBody(message)));
      setTimeout(() => socket.destroy(), lingerMs).unref();
    }
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const versioned = splitVersionPrefix(q === -1 ? url : url.slice(0, q));
    const { headers } = this.scope;
    if (!versioned.ok) {
      const body = versioned.contentType === 'application/json' ? errorBody(versioned.message) : `${versioned.message}\n`;
      socket.end(rawResponse(400, headers, versioned.contentType, body));
      return;
    }
    let route: { handler: HijackHandler; params: PathParams } | undefined;
    try {
      route = this.hijackRoutes.match(req.method ?? 'GET', versioned.path);
      if (!route) throw pageNotFound();
    } catch (err) {
      socket.end(rawResponse(statusOf(err), headers, 'application/json', errorBody(err)));
      return;
    }
    (socket as Socket).setNoDelay?.(true);
    this.guard.hijacked(socket as Socket);
    this.hijacked.add(socket);
    socket.once('close', () => this.hijacked.delete(socket));
    route
      .handler({
        scope: this.scope,
        req,
        socket,
        head,
        params: route.params,
        query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
        apiVersion: versioned.version,
      })
      .catch((err: unknown) => {
        if (socket.destroyed) this.scope.log.debug('client closed a hijacked connection', { url, error: errorMessage(err) });
        else
          this.scope.log.error('hijacked request failed', {
            url,
            error: errorMessage(err),
            stack: err instanceof Error ? err.stack : undefined,
          });
        socket.destroy();
      });
  }
}

/** The API server for `engine`; call `listen()` on it. */
export function createApiServer(engine: EngineApi, options: ApiServerOptions): ApiServer {
  return new ApiServer(engine, options);
}
