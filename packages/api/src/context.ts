import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EngineApi, Logger } from '@berth/core';
import type { EventHistory } from './events/event-history.js';
import type { ApiHeaders } from './respond.js';

/** What every handler may use: the engine, the logger, the server's constant headers. */
export interface ServerScope {
  engine: EngineApi;
  log: Logger;
  headers: ApiHeaders;
  serverVersion: string;
  eventHistory: EventHistory;
}

/** One ordinary request, routed. */
export interface RequestContext {
  scope: ServerScope;
  req: IncomingMessage;
  res: ServerResponse;
  /** Path captures of the route template, percent-decoded. */
  params: string[];
  query: URLSearchParams;
  /** The version the client asked for in `/v1.N/`, or ours when unversioned. */
  apiVersion: string;
}

export type RouteHandler = (ctx: RequestContext) => Promise<void> | void;

/**
 * One request that asked to take over the connection (`Connection: Upgrade`,
 * `Upgrade: tcp`): the socket left Node's HTTP parser, and `head` holds whatever the
 * client sent after the headers (the request body first, then stdin).
 */
export interface HijackContext {
  scope: ServerScope;
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  params: string[];
  query: URLSearchParams;
  apiVersion: string;
}

export type HijackHandler = (ctx: HijackContext) => Promise<void>;
