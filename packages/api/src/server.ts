import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type EngineApi, type Logger, NotFound, silentLogger, statusOf } from '@berth/core';
import { API_VERSION, splitVersionPrefix } from './api-version.js';
import type { HijackHandler, RequestContext, RouteHandler, ServerScope } from './context.js';
import { EventHistory } from './events/event-history.js';
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
}

/** Where to listen: a UNIX socket path, or a TCP address (for tests and embedders; berthd serves UNIX sockets). */
export type ListenTarget = string | { host: string; port: number };

const pageNotFound = () => new NotFound('page not found');

/**
 * The Docker Engine API (1.41) over HTTP for one engine. It holds no state of its own
 * beyond a short window of recent events for `/events?since=`; every answer comes from
 * the engine. Lifecycle: construct, `listen()` once, `close()` once (stops accepting,
 * cuts every open connection including hijacked attach streams, which detaches them:
 * containers keep running).
 */
export class ApiServer {
  /** The underlying Node server, for embedders that want to listen themselves. */
  readonly server: http.Server;
  private readonly scope: ServerScope;
  private readonly routes = new Router<RouteHandler>();
  private readonly hijackRoutes = new Router<HijackHandler>();
  private readonly hijacked = new Set<Duplex>();

  constructor(engine: EngineApi, options: ApiServerOptions) {
    this.scope = {
      engine,
      log: options.logger ?? silentLogger,
      headers: apiHeaders(API_VERSION, options.serverVersion),
      serverVersion: options.serverVersion,
      eventHistory: new EventHistory(engine.events),
    };
    registerRouteModules(options.routes ?? defaultRoutes, this.routes, this.hijackRoutes);

    // Uploads (load, import) may take longer than Node's default 5 minutes.
    this.server = http.createServer({ requestTimeout: 0 });
    // Node's default (no half-open for plain HTTP) is kept on purpose: a client FIN is how
    // a departed `logs -f` or `events` client is noticed while nothing is being written.
    // Hijacked sockets are half-open regardless (the net server underneath is).
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
  }

  listen(target: ListenTarget): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      const done = () => {
        this.server.off('error', onError);
        resolve();
      };
      if (typeof target === 'string') this.server.listen(target, done);
      else this.server.listen(target.port, target.host, done);
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
    for (const socket of this.hijacked) socket.destroy();
    this.hijacked.clear();
    return closed;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    for (const [name, value] of this.scope.headers) res.setHeader(name, value);
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
    if (!isClientError(err)) {
      this.scope.log.error('request failed', {
        method: req.method,
        url: req.url,
        status: statusOf(err),
        error: errorMessage(err),
        stack: err instanceof Error ? err.stack : undefined,
      });
    }
    if (!res.headersSent) sendError(res, err);
    // Once a stream has started, cutting it is the only honest signal left.
    else if (!res.writableEnded) res.destroy();
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
        this.scope.log.error('hijacked request failed', { url, error: errorMessage(err) });
        socket.destroy();
      });
  }
}

/** The API server for `engine`; call `listen()` on it. */
export function createApiServer(engine: EngineApi, options: ApiServerOptions): ApiServer {
  return new ApiServer(engine, options);
}
