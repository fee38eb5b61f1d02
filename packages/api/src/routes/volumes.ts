import { InvalidArgument, type VolumeCreateBody } from '@berth/core';
import type { RequestContext } from '../context.js';
import { boolParam, filtersParam } from '../query.js';
import { readJsonBody } from '../request-body.js';
import { sendEmpty, sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';

/** A create body with Docker's types (`Name`, `Driver` strings; `DriverOpts`, `Labels` maps of strings): a mistyped field is a 400 naming it. */
function checkCreateBody(raw: unknown): VolumeCreateBody {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new InvalidArgument('volume create: the body must be a JSON object');
  const body = raw as Record<string, unknown>;
  for (const field of ['Name', 'Driver']) {
    if (body[field] !== undefined && body[field] !== null && typeof body[field] !== 'string') {
      throw new InvalidArgument(`volume create: ${field} must be a string`);
    }
  }
  for (const field of ['DriverOpts', 'Labels']) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidArgument(`volume create: ${field} must be a JSON object`);
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') throw new InvalidArgument(`volume create: ${field}.${k} must be a string`);
    }
  }
  return {
    Name: (body.Name as string | null) ?? undefined,
    Driver: (body.Driver as string | null) ?? undefined,
    DriverOpts: body.DriverOpts as Record<string, string> | null,
    Labels: body.Labels as Record<string, string> | null,
  };
}

async function create(ctx: RequestContext): Promise<void> {
  const body = checkCreateBody(await readJsonBody(ctx.req));
  sendJson(ctx.res, 201, await ctx.scope.engine.volumes.create(body));
}

async function list(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, await ctx.scope.engine.volumes.list(filtersParam(ctx.query)));
}

async function inspect(ctx: RequestContext<'name'>): Promise<void> {
  sendJson(ctx.res, 200, await ctx.scope.engine.volumes.inspect(ctx.params.name));
}

async function remove(ctx: RequestContext<'name'>): Promise<void> {
  await ctx.scope.engine.volumes.remove(ctx.params.name, boolParam(ctx.query, 'force'));
  sendEmpty(ctx.res, 204);
}

async function prune(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, await ctx.scope.engine.volumes.prune(filtersParam(ctx.query)));
}

/** Volumes: create, list, inspect, remove (`force`), prune, as dockerd serves them. */
export const volumeRoutes: RouteModule = {
  name: 'volumes',
  register(routes) {
    routes.add('POST', '/volumes/create', create);
    routes.add('POST', '/volumes/prune', prune);
    routes.add('GET', '/volumes', list);
    routes.add('GET', '/volumes/{name}', inspect);
    routes.add('DELETE', '/volumes/{name}', remove);
  },
};
