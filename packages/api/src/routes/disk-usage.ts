import type { DiskUsage, Filters } from '@berth/core';
import type { RequestContext } from '../context.js';
import { boolParam, filtersParam, intParam } from '../query.js';
import { sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';

/**
 * `GET /system/df`: images (with shared sizes and how many containers use each),
 * containers (with their writable layer's size), volumes and build cache, as dockerd
 * answers it (volumes with `UsageData`: size and how many containers use each; the build
 * cache's entries as BuildKit's records).
 */
async function diskUsage(ctx: RequestContext): Promise<void> {
  const [images, containers, volumes, buildCache] = await Promise.all([
    ctx.scope.engine.images.diskUsage(),
    ctx.scope.engine.containers.list({ all: true, size: true }),
    ctx.scope.engine.volumes.diskUsage(),
    ctx.scope.engine.builds.diskUsage(),
  ]);
  const usage: DiskUsage = {
    LayersSize: images.LayersSize,
    Images: images.Images,
    Containers: containers,
    Volumes: volumes,
    BuildCache: buildCache,
  };
  sendJson(ctx.res, 200, usage);
}

/**
 * `POST /build/prune` (`docker builder prune`, and `docker system prune`'s build cache
 * part): `keep-storage` bytes to keep, `all` (entries named images need too), filters
 * (`until`).
 */
async function buildPrune(ctx: RequestContext): Promise<void> {
  const keep = intParam(ctx.query, 'keep-storage');
  const report = await ctx.scope.engine.builds.prune({
    all: boolParam(ctx.query, 'all'),
    ...(keep !== undefined && keep > 0 ? { keepStorage: keep } : {}),
    ...optionalFilters(filtersParam(ctx.query)),
  });
  sendJson(ctx.res, 200, report);
}

function optionalFilters(filters: Filters | undefined): { filters?: Filters } {
  return filters ? { filters } : {};
}

/** Disk usage, and the build cache's prune. */
export const diskUsageRoutes: RouteModule = {
  name: 'disk-usage',
  register(routes) {
    routes.add('GET', '/system/df', diskUsage);
    routes.add('POST', '/build/prune', buildPrune);
  },
};
