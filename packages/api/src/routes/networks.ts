import { InvalidArgument, type NetworkCreateRequest, networkConnectShape, networkDisconnectShape } from '@berth/core';
import type { RequestContext } from '../context.js';
import { filtersParam } from '../query.js';
import { readJsonBody } from '../request-body.js';
import { sendEmpty, sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';

/** The types of the create body's fields berth reads: a mistyped one is a 400 naming it, never passed on. */
const fieldTypes: Record<string, 'string' | 'boolean' | 'object'> = {
  Name: 'string',
  CheckDuplicate: 'boolean',
  Driver: 'string',
  Scope: 'string',
  Internal: 'boolean',
  Attachable: 'boolean',
  Ingress: 'boolean',
  EnableIPv6: 'boolean',
  ConfigOnly: 'boolean',
  ConfigFrom: 'object',
  IPAM: 'object',
  Options: 'object',
  Labels: 'object',
};

function checkCreateBody(raw: unknown): NetworkCreateRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new InvalidArgument('network create: the body must be a JSON object');
  const body = raw as Record<string, unknown>;
  for (const [field, type] of Object.entries(fieldTypes)) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== type || (type === 'object' && Array.isArray(value))) {
      throw new InvalidArgument(`network create: ${field} must be a ${type === 'object' ? 'JSON object' : type}`);
    }
  }
  for (const field of ['Options', 'Labels'] as const) {
    for (const [k, v] of Object.entries((body[field] as Record<string, unknown> | null) ?? {})) {
      if (typeof v !== 'string') throw new InvalidArgument(`network create: ${field}.${k} must be a string`);
    }
  }
  const ipam = body.IPAM as { Config?: unknown; Driver?: unknown; Options?: unknown } | undefined;
  if (ipam?.Driver !== undefined && ipam.Driver !== null && typeof ipam.Driver !== 'string') {
    throw new InvalidArgument('network create: IPAM.Driver must be a string');
  }
  if (ipam?.Options !== undefined && ipam.Options !== null) {
    if (typeof ipam.Options !== 'object' || Array.isArray(ipam.Options))
      throw new InvalidArgument('network create: IPAM.Options must be a JSON object');
    for (const [k, v] of Object.entries(ipam.Options)) {
      if (typeof v !== 'string') throw new InvalidArgument(`network create: IPAM.Options.${k} must be a string`);
    }
  }
  if (ipam?.Config !== undefined && ipam.Config !== null) {
    if (!Array.isArray(ipam.Config)) throw new InvalidArgument('network create: IPAM.Config must be a list');
    for (const c of ipam.Config as Array<Record<string, unknown>>) {
      for (const f of ['Subnet', 'IPRange', 'Gateway']) {
        if (c?.[f] !== undefined && typeof c[f] !== 'string')
          throw new InvalidArgument(`network create: IPAM.Config.${f} must be a string`);
      }
    }
  }
  return body as unknown as NetworkCreateRequest;
}

async function create(ctx: RequestContext): Promise<void> {
  const body = checkCreateBody(await readJsonBody(ctx.req));
  sendJson(ctx.res, 201, await ctx.scope.engine.networks.create(body));
}

/** `POST /networks/{id}/connect`: `{Container, EndpointConfig}`, typed as a create's endpoint settings; 200 with no body, as dockerd. */
async function connect(ctx: RequestContext): Promise<void> {
  const body = networkConnectShape.parse(await readJsonBody(ctx.req), '');
  await ctx.scope.engine.networks.connect(ctx.params.id, body);
  sendEmpty(ctx.res, 200);
}

/** `POST /networks/{id}/disconnect`: `{Container, Force}`. */
async function disconnect(ctx: RequestContext): Promise<void> {
  const body = networkDisconnectShape.parse(await readJsonBody(ctx.req), '');
  await ctx.scope.engine.networks.disconnect(ctx.params.id, body);
  sendEmpty(ctx.res, 200);
}

async function list(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, ctx.scope.engine.networks.list(filtersParam(ctx.query)));
}

async function inspect(ctx: RequestContext<'id'>): Promise<void> {
  sendJson(ctx.res, 200, ctx.scope.engine.networks.inspect(ctx.params.id));
}

async function remove(ctx: RequestContext<'id'>): Promise<void> {
  await ctx.scope.engine.networks.remove(ctx.params.id);
  sendEmpty(ctx.res, 204);
}

async function prune(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, await ctx.scope.engine.networks.prune(filtersParam(ctx.query)));
}

/** Networks: create, list, inspect, remove, prune, connect and disconnect, as dockerd serves them. */
export const networkRoutes: RouteModule = {
  name: 'networks',
  register(routes) {
    routes.add('POST', '/networks/create', create);
    routes.add('POST', '/networks/prune', prune);
    routes.add('POST', '/networks/{id}/connect', connect);
    routes.add('POST', '/networks/{id}/disconnect', disconnect);
    routes.add('GET', '/networks', list);
    routes.add('GET', '/networks/{id}', inspect);
    routes.add('DELETE', '/networks/{id}', remove);
  },
};
