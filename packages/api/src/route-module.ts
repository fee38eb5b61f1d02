import type { HijackHandler, RouteHandler } from './context.js';
import type { ParamNames, Router } from './router.js';

/**
 * Where a route module puts its routes. Templates are paths without the `/v1.N` prefix
 * (the server strips it and serves every route under every supported version);
 * `{id}` captures one path segment and `{name*}` one or more, and each capture reaches
 * the handler by name, typed from the template (`ctx.params.id`).
 *
 * Ordering: a fixed path (no `{`) always wins over a pattern, whichever module
 * registered either, so `/images/json` is never taken for an image called `json`.
 * Patterns are tried in registration order: modules in the order of the `routes` list,
 * each module's routes in the order it adds them, so of two overlapping patterns the
 * earlier one wins. The same method and template registered twice is an error at
 * server construction naming both modules: to change a route, replace its module.
 */
export interface RouteRegistry {
  /** An ordinary request/response route for each of `methods`. */
  add<T extends string>(methods: string | string[], template: T, handler: RouteHandler<ParamNames<T>>): void;
  /**
   * A route for requests that ask to take over the connection (`Connection: Upgrade`,
   * `Upgrade: tcp`, as the docker CLI's attach does). Such a request only ever reaches a
   * hijack route; the same path without `Upgrade` reaches the ordinary route, if any.
   */
  hijack<T extends string>(method: string, template: T, handler: HijackHandler<ParamNames<T>>): void;
}

/**
 * A group of API routes that belong together (system, events, containers, attach,
 * images), and the unit an embedder adds or replaces:
 *
 * ```ts
 * createApiServer(engine, { serverVersion, routes: [...defaultRoutes, myRoutes] });
 * createApiServer(engine, { serverVersion, routes: defaultRoutes.map((m) => (m === imageRoutes ? myImageRoutes : m)) });
 * ```
 *
 * Lifecycle: `register` is called once per server, in the server's constructor, before
 * it listens; the module adds its routes and keeps nothing. Handlers then run once per
 * request with that request's context, whose `scope` gives them the engine, the logger
 * and the server's headers: a module holds no state of its own between requests.
 */
export interface RouteModule {
  /** Names the module in errors (a route registered twice) and for embedders who look one up. */
  readonly name: string;
  register(routes: RouteRegistry): void;
}

/**
 * Registers `modules` in order into the two routers of a server. Two modules of the
 * same name, or a route two modules both register, throw: neither is a sensible server.
 */
export function registerRouteModules(
  modules: readonly RouteModule[],
  routes: Router<RouteHandler>,
  hijackRoutes: Router<HijackHandler>,
): void {
  const owners = new Map<string, string>();
  const claim = (kind: string, method: string, template: string, module: string) => {
    const key = `${kind} ${method} ${template}`;
    const owner = owners.get(key);
    if (owner !== undefined) {
      throw new Error(
        `route ${method} ${template}${kind === 'hijack' ? ' (hijacked)' : ''} is registered by both route modules ${owner} and ${module}`,
      );
    }
    owners.set(key, module);
  };
  const names = new Set<string>();
  for (const module of modules) {
    if (names.has(module.name)) throw new Error(`two route modules are named ${module.name}`);
    names.add(module.name);
    module.register({
      add(methods, template, handler) {
        for (const method of Array.isArray(methods) ? methods : [methods]) {
          claim('plain', method, template, module.name);
          routes.add(method, template, handler as RouteHandler);
        }
      },
      hijack(method, template, handler) {
        claim('hijack', method, template, module.name);
        hijackRoutes.add(method, template, handler as HijackHandler);
      },
    });
  }
}
