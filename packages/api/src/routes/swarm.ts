import type { RequestContext } from '../context.js';
import { sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';

/**
 * dockerd's answers on a node that is not in a swarm, 503 with its messages (which the CLI
 * and docker-py print as they are): `/swarm` says the node is not part of one, the
 * manager's endpoints that it is not a manager. Written here, not thrown: no engine
 * error means "unavailable".
 */
function notInSwarm(ctx: RequestContext): void {
  sendJson(ctx.res, 503, { message: 'This node is not part of a swarm' });
}

function notAManager(ctx: RequestContext): void {
  sendJson(ctx.res, 503, {
    message:
      'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.',
  });
}

/**
 * The swarm endpoints, answered as an inactive dockerd answers them: berth has no swarm
 * mode, and clients (`docker node ls`, `docker service ls`, docker-py's `swarm.attrs`)
 * expect that 503 rather than a 404 for a route that does not exist.
 */
export const swarmRoutes: RouteModule = {
  name: 'swarm',
  register(routes) {
    const all = ['GET', 'POST', 'DELETE'];
    routes.add(all, '/swarm', notInSwarm);
    routes.add(all, '/swarm/{rest*}', notInSwarm);
    for (const base of ['/services', '/nodes', '/tasks', '/secrets', '/configs']) {
      routes.add(all, base, notAManager);
      routes.add(all, `${base}/{rest*}`, notAManager);
    }
  },
};
