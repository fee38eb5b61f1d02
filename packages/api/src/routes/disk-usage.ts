import type { DiskUsage } from '@berth/core';
import type { RequestContext } from '../context.js';
import { filtersParam } from '../query.js';
import { sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';

/**
 * `GET /system/df`: images (with shared sizes and how many containers use each),
 * containers (with their writable layer's size), volumes and build cache, as dockerd
 * answers it. berth has neither named volumes nor a build cache: those lists are empty,
 * which is what they hold.
 */
async function diskUsage(ctx: RequestContext): Promise<void> {
  const [images, containers] = await Promise.all([
    ctx.scope.engine.images.diskUsage(),
    ctx.scope.engine.containers.list({ all: true, size: true }),
  ]);
  const usage: DiskUsage = { LayersSize: images.LayersSize, Images: images.Images, Containers: containers, Volumes: [], BuildCache: [] };
  sendJson(ctx.res, 200, usage);
}

/**
 * The prunes `docker system prune` asks for beside containers, images and networks
 * (routes/networks.ts): volumes (berth has no named volumes yet) and the build cache
 * (berth keeps none). Each answers that nothing was there to remove; the filters are
 * still checked, so a malformed one is refused.
 */
function nothingToPrune(report: Record<string, unknown>) {
  return async (ctx: RequestContext): Promise<void> => {
    filtersParam(ctx.query);
    sendJson(ctx.res, 200, report);
  };
}

/** Disk usage and the prunes of what berth does not keep. */
export const diskUsageRoutes: RouteModule = {
  name: 'disk-usage',
  register(routes) {
    routes.add('GET', '/system/df', diskUsage);
    routes.add('POST', '/volumes/prune', nothingToPrune({ VolumesDeleted: null, SpaceReclaimed: 0 }));
    routes.add('POST', '/build/prune', nothingToPrune({ CachesDeleted: null, SpaceReclaimed: 0 }));
  },
};
