import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EngineApi, Logger } from '@berth/core';
import type { EventHistory } from './events/event-history.js';
import type { ApiHeaders } from './respond.js';
import type { PathParams } from './router.js';

/** What every handler may use: the engine, the logger, the server's constant headers. */
export interface ServerScope {
  engine: EngineApi;
  log: Logger;
  headers: ApiHeaders;
  serverVersion: string;
  eventHistory: EventHistory;
}

/**
 * One ordinary request, routed. `P` names the captures of its route template
 * (`RequestContext<'id'>` for `/containers/{id}/json`), so `ctx.params.id` is a string.
 */
export interface RequestContext<P extends string = string> {
  scope: ServerScope;
  req: IncomingMessage;
  res: ServerResponse;
  /** The captures of the route template by name (`{id}` → `params.id`), percent-decoded. */
  params: PathParams<P>;
  query: URLSearchParams;
  /** The version the client asked for in `/v1.N/`, or ours when unversioned. */
  apiVersion: string;
}

/**
 * Answers one request. It may answer synchronously or return a promise; a throw or a
 * rejection becomes the error's status and `{"message"}` (or cuts a response whose
 * headers are already out).
 */
export type RouteHandler<P extends string = string> = (ctx: RequestContext<P>) => Promise<void> | void;

/**
 * One request that asked to take over the connection (`Connection: Upgrade`,
 * `Upgrade: tcp`): the socket left Node's HTTP parser, and `head` holds whatever the
 * client sent after the headers (the request body first, then stdin).
 */
export interface HijackContext<P extends string = string> {
  scope: ServerScope;
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  /** The captures of the route template by name, as for ordinary requests. */
  params: PathParams<P>;
  query: URLSearchParams;
  apiVersion: string;
}

/**
 * Serves one hijacked connection. It owns the socket from here: it writes the status
 * line itself (`101 UPGRADED`, or an error response) and ends or destroys the socket.
 * A rejection is logged and the socket destroyed.
 */
export type HijackHandler<P extends string = string> = (ctx: HijackContext<P>) => Promise<void>;
