import type { RouteModule } from '../route-module.js';
import { attachRoutes } from './attach.js';
import { buildRoutes } from './build.js';
import { containerChangeRoutes } from './container-changes.js';
import { containerFileRoutes } from './container-files.js';
import { containerStatsRoutes } from './container-stats.js';
import { containerRoutes } from './containers.js';
import { diskUsageRoutes } from './disk-usage.js';
import { eventRoutes } from './events.js';
import { execRoutes } from './exec.js';
import { imageRoutes } from './images.js';
import { networkRoutes } from './networks.js';
import { registryRoutes } from './registry.js';
import { swarmRoutes } from './swarm.js';
import { systemRoutes } from './system.js';
import { volumeRoutes } from './volumes.js';

/**
 * Every route berth serves, as `createApiServer` registers them when it is given no
 * `routes`. Frozen: an embedder builds a new list from it (`[...defaultRoutes, mine]`)
 * rather than changing the one other servers in the process use.
 */
export const defaultRoutes: readonly RouteModule[] = Object.freeze([
  systemRoutes,
  eventRoutes,
  containerRoutes,
  containerChangeRoutes,
  containerFileRoutes,
  containerStatsRoutes,
  attachRoutes,
  execRoutes,
  imageRoutes,
  networkRoutes,
  volumeRoutes,
  registryRoutes,
  buildRoutes,
  swarmRoutes,
  diskUsageRoutes,
]);
