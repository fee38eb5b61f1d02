import type { DiskUsage } from '@berth/core';
import type { RequestContext } from '../context.js';
import { filtersParam } from '../query.js';
import { sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';

/**
 * `GET /system/df`: images (with shared sizes and how many containers use each),
 * containers (with their writable layer's size), volumes and build cache, as dockerd
 * answers it (volumes with `UsageData`: size and how many containers use each). berth
 * keeps no build cache: that list is empty.
 */
async function diskUsage(ctx: RequestContext): Promise<void> {
  const [images, containers, volumes] = await Promise.all([
    ctx.scope.engine.images.diskUsage(),
    ctx.scope.engine.containers.list({ all: true, size: true }),
    ctx.scope.engine.volumes.diskUsage(),
  ]);
  const usage: DiskUsage = {
    LayersSize: images.LayersSize,
    Images: images.Images,
    Containers: containers,
    Volumes: volumes,
    BuildCache: [],
  };
  sendJson(ctx.res, 200, usage);
}

/**
 * The prune `docker system prune` asks for beside containers, images, networks and
 * volumes (routes/volumes.ts): the build cache (berth keeps none). Each answers that nothing was there to remove; the filters are
 * still checked, so a malformed one is refused.
 */
function nothingToPrune(report: Record<string, unknown>) {
  return async (ctx: RequestContext): Promise<void> => {
    filtersParam(ctx.query);
    sendJson(ctx.res, 200, report);
  };
}

/** Disk usage and the prune of what berth does not keep. */
export const diskUsageRoutes: RouteModule = {
  name: 'disk-usage',
  register(routes) {
    routes.add('GET', '/system/df', diskUsage);
    routes.add('POST', '/build/prune', nothingToPrune({ CachesDeleted: null, SpaceReclaimed: 0 }));
  },
};
