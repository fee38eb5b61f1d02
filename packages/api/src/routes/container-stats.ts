import { compareApiVersions } from '../api-version.js';
import type { RequestContext } from '../context.js';
import { boolParam, optionalBoolParam, stringParam } from '../query.js';
import { sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';
import { clientGoneSignal, jsonLine, startJsonLines, writeChunk } from '../stream-write.js';

/** `GET /containers/{id}/top?ps_args=aux`: `{Titles, Processes}`. */
async function top(ctx: RequestContext<'id'>): Promise<void> {
  sendJson(ctx.res, 200, await ctx.scope.engine.containers.top(ctx.params.id, stringParam(ctx.query, 'ps_args')));
}

/**
 * `GET /containers/{id}/stats`: a stream of samples, one JSON object a second (`stream`
 * defaults to true), or one answered at once (`stream=false`, its `precpu_stats` an
 * earlier reading the engine kept; `one-shot` without it, from API 1.41 on).
 * `stream=true` with `one-shot=true` is a 400, as in dockerd.
 */
async function stats(ctx: RequestContext<'id'>): Promise<void> {
  const { res } = ctx;
  const stream = optionalBoolParam(ctx.query, 'stream') ?? true;
  // Only a stream outlives its first sample: a single answer needs no watch on the client.
  const signal = stream ? clientGoneSignal(res) : undefined;
  // one-shot came with API 1.41: dockerd reads it from no older client.
  const oneShot = compareApiVersions(ctx.apiVersion, '1.41') >= 0 && boolParam(ctx.query, 'one-shot');
  const samples = ctx.scope.engine.containers.stats(ctx.params.id, { stream, oneShot, signal });
  const iterator = samples[Symbol.asyncIterator]();
  // The first sample before the headers: an unknown container is still a real 404.
  const first = await iterator.next();
  if (!stream) {
    sendJson(res, 200, first.done ? {} : first.value);
    return;
  }
  startJsonLines(res);
  try {
    for (let next = first; !next.done; next = await iterator.next()) {
      if (!(await writeChunk(res, jsonLine(next.value)))) break;
    }
  } finally {
    await iterator.return?.();
  }
  res.end();
}

/** What runs in a container and what it uses: top and stats. */
export const containerStatsRoutes: RouteModule = {
  name: 'container-stats',
  register(routes) {
    routes.add('GET', '/containers/{id}/top', top);
    routes.add('GET', '/containers/{id}/stats', stats);
  },
};
