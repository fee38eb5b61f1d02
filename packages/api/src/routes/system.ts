import { API_VERSION, MIN_API_VERSION } from '../api-version.js';
import type { RequestContext } from '../context.js';
import { sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';

/**
 * `/_ping` exactly as dockerd answers it: the CLI reads the
 * `Api-Version` header of `HEAD /_ping` to choose the version for the whole command, and
 * `Builder-Version` to choose its builder: `1`, the classic builder `POST /build` serves.
 */
function ping(ctx: RequestContext): void {
  const head = ctx.req.method === 'HEAD';
  ctx.res.writeHead(200, {
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
    'Content-Type': 'text/plain; charset=utf-8',
    'Builder-Version': '1',
    'Content-Length': head ? 0 : 2,
  });
  ctx.res.end(head ? undefined : 'OK');
}

/** `/version`: the engine's answer, with the API versions this layer actually serves. */
function version(ctx: RequestContext): void {
  const info = ctx.scope.engine.version();
  sendJson(ctx.res, 200, {
    ...info,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    Components: info.Components?.map((c) =>
      c.Name === 'Engine' ? { ...c, Details: { ...c.Details, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION } } : c,
    ),
  });
}

async function info(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, await ctx.scope.engine.info());
}

/** berth's own route: every plugin with its status (ok / skipped / error) and reason. */
function plugins(ctx: RequestContext): void {
  sendJson(ctx.res, 200, ctx.scope.engine.plugins());
}

/** `/_ping`, `/version`, `/info` and berth's `/berth/plugins`. */
export const systemRoutes: RouteModule = {
  name: 'system',
  register(routes) {
    routes.add(['GET', 'HEAD'], '/_ping', ping);
    routes.add('GET', '/version', version);
    routes.add('GET', '/info', info);
    routes.add('GET', '/berth/plugins', plugins);
  },
};
