import { type ContainerUpdate, containerUpdateFields, hostConfigShape, InvalidArgument } from '@berth/core';
import type { RequestContext } from '../context.js';
import { filtersParam, stringParam } from '../query.js';
import { readJsonBody } from '../request-body.js';
import { sendEmpty, sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';

/** 204; Conflict (409) when it is not running or already paused, as dockerd answers. */
async function pause(ctx: RequestContext<'id'>): Promise<void> {
  await ctx.scope.engine.containers.pause(ctx.params.id);
  sendEmpty(ctx.res, 204);
}

async function unpause(ctx: RequestContext<'id'>): Promise<void> {
  await ctx.scope.engine.containers.unpause(ctx.params.id);
  sendEmpty(ctx.res, 204);
}

/** `POST /containers/{id}/rename?name=new`: 204. */
async function rename(ctx: RequestContext<'id'>): Promise<void> {
  await ctx.scope.engine.containers.rename(ctx.params.id, stringParam(ctx.query, 'name') ?? '');
  sendEmpty(ctx.res, 204);
}

/**
 * `POST /containers/{id}/update`: the body is Docker's UpdateConfig (the resources of a
 * HostConfig and a RestartPolicy), type-checked as HostConfig is at create. A field berth
 * cannot change on a container (blkio weights, devices...) is refused naming it.
 */
async function update(ctx: RequestContext<'id'>): Promise<void> {
  const raw = (await readJsonBody(ctx.req)) ?? {};
  const body = hostConfigShape.parse(raw, '');
  const changes: ContainerUpdate = {};
  const allowed = new Set<string>(containerUpdateFields);
  for (const [key, value] of Object.entries(body)) {
    if (allowed.has(key)) (changes as Record<string, unknown>)[key] = value;
    else if (!isZero(value)) throw new InvalidArgument(`${key} cannot be updated by berth`);
  }
  sendJson(ctx.res, 200, await ctx.scope.engine.containers.update(ctx.params.id, changes));
}

/** The CLI sends every resource field, most of them zero: those ask for nothing. */
function isZero(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value as object).every(isZero);
  return false;
}

/** `POST /containers/prune`: `{ContainersDeleted, SpaceReclaimed}`. */
async function prune(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, await ctx.scope.engine.containers.prune(filtersParam(ctx.query) ?? {}));
}

/** Changes to containers beside their lifecycle: pause, unpause, rename, update, prune. */
export const containerChangeRoutes: RouteModule = {
  name: 'container-changes',
  register(routes) {
    routes.add('POST', '/containers/{id}/pause', pause);
    routes.add('POST', '/containers/{id}/unpause', unpause);
    routes.add('POST', '/containers/{id}/rename', rename);
    routes.add('POST', '/containers/{id}/update', update);
    routes.add('POST', '/containers/prune', prune);
  },
};
