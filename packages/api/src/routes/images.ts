import { pipeline } from 'node:stream';
import { InvalidArgument, isBerthError, NotImplemented } from '@berth/core';
import type { RequestContext, RouteHandler } from '../context.js';
import { boolParam, filtersParam, isUnset, stringParam } from '../query.js';
import { pipedUpload } from '../request-body.js';
import { sendEmpty, sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';
import { jsonLine, startJsonLines } from '../stream-write.js';
import { pullFromRegistry } from './registry.js';

async function list(ctx: RequestContext): Promise<void> {
  const filters = filtersParam(ctx.query) ?? {};
  // API < 1.25 clients send the reference as `filter=`.
  const legacy = stringParam(ctx.query, 'filter');
  if (legacy !== undefined) filters.reference = [...(filters.reference ?? []), legacy];
  const images = await ctx.scope.engine.images.list({
    all: boolParam(ctx.query, 'all'),
    filters: Object.keys(filters).length > 0 ? filters : undefined,
  });
  sendJson(ctx.res, 200, images);
}

async function inspect(ctx: RequestContext<'name'>): Promise<void> {
  sendJson(ctx.res, 200, await ctx.scope.engine.images.inspect(ctx.params.name));
}

async function history(ctx: RequestContext<'name'>): Promise<void> {
  sendJson(ctx.res, 200, await ctx.scope.engine.images.history(ctx.params.name));
}

/**
 * `POST /images/{name}/tag?repo=&tag=` → 201. The CLI sends `repo` fully qualified
 * (`docker.io/trc/busybox`); it goes to the engine as sent, and the engine, which owns
 * reference parsing, stores the familiar form (`trc/busybox`).
 */
async function tag(ctx: RequestContext<'name'>): Promise<void> {
  const repo = stringParam(ctx.query, 'repo');
  if (repo === undefined) throw new InvalidArgument('missing query parameter: repo');
  await ctx.scope.engine.images.tag(ctx.params.name, repo, stringParam(ctx.query, 'tag'));
  sendEmpty(ctx.res, 201);
}

async function remove(ctx: RequestContext<'name'>): Promise<void> {
  const deleted = await ctx.scope.engine.images.remove(ctx.params.name, {
    force: boolParam(ctx.query, 'force'),
    noprune: boolParam(ctx.query, 'noprune'),
  });
  sendJson(ctx.res, 200, deleted);
}

/**
 * `POST /images/create`: `fromSrc=-` imports the body (a rootfs tar) as a one-layer
 * image, `fromSrc=<http(s) URL>` the tar downloaded from there, and answers
 * `{"status":"sha256:..."}` like dockerd. `fromImage` is a pull
 * (`pullFromRegistry`, routes/registry.ts).
 */
async function createImage(ctx: RequestContext): Promise<void> {
  const { query } = ctx;
  const fromImage = stringParam(query, 'fromImage');
  const fromSrc = stringParam(query, 'fromSrc');
  if (fromImage !== undefined) return pullFromRegistry(ctx, fromImage);
  if (fromSrc === undefined) throw new InvalidArgument('missing query parameter: fromImage or fromSrc');
  const changes = query.getAll('changes').filter((c) => !isUnset(c));
  const upload = pipedUpload(ctx.req);
  let id: string;
  try {
    id = await ctx.scope.engine.images.import(upload.body, {
      repo: stringParam(query, 'repo'),
      tag: stringParam(query, 'tag'),
      message: stringParam(query, 'message'),
      changes: changes.length > 0 ? changes : undefined,
      // `-`: the body; else a URL the engine downloads.
      source: fromSrc,
    });
  } catch (err) {
    upload.discardRest();
    throw err;
  }
  startJsonLines(ctx.res);
  ctx.res.end(jsonLine({ status: id }));
}

/**
 * `POST /images/load`: a docker-archive or OCI layout body; one `Loaded image: x` line per
 * image. A failed load is answered as dockerd does: 200 and the error inside the stream
 * (`{"errorDetail":{"message":…},"error":…}`), where the docker CLI and docker-py's
 * `ImageLoadError` look for it. Only an answer already under way (a stalled upload's 408)
 * or an error that is not the engine's goes the usual way.
 */
async function load(ctx: RequestContext): Promise<void> {
  let names: string[];
  const upload = pipedUpload(ctx.req);
  try {
    names = await ctx.scope.engine.images.load(upload.body);
  } catch (err) {
    upload.discardRest();
    if (ctx.res.headersSent || !isBerthError(err)) throw err;
    startJsonLines(ctx.res);
    ctx.res.end(jsonLine({ errorDetail: { message: err.message }, error: err.message }));
    return;
  }
  startJsonLines(ctx.res);
  let out = '';
  for (const name of names) {
    const text = name.startsWith('sha256:') ? `Loaded image ID: ${name}\n` : `Loaded image: ${name}\n`;
    out += jsonLine({ stream: text });
  }
  ctx.res.end(out);
}

/** `GET /images/get?names=` and `GET /images/{name}/get`: a docker-archive, streamed. */
async function save(ctx: RequestContext, names: string[]): Promise<void> {
  if (names.length === 0) throw new InvalidArgument('no images named: pass names=<image> at least once');
  // berth's own: `format=oci` for an OCI image layout (a docker-archive too); the docker CLI never sends it.
  const format = stringParam(ctx.query, 'format');
  if (format !== undefined && format !== 'docker' && format !== 'oci') {
    throw new InvalidArgument(`invalid format ${JSON.stringify(format)}: "docker" or "oci"`);
  }
  const tar = await ctx.scope.engine.images.save(names, format ? { format } : undefined);
  const { res } = ctx;
  res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  await new Promise<void>((resolve) => {
    pipeline(tar, res, (err) => {
      // Headers are out: the only way left to signal a broken archive is to cut it short.
      if (err && !res.destroyed) res.destroy();
      resolve();
    });
  });
}

/** `POST /images/prune?filters=`: `{ImagesDeleted, SpaceReclaimed}` (`-a` sends `dangling=false`). */
async function prune(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, await ctx.scope.engine.images.prune(filtersParam(ctx.query) ?? {}));
}

function unsupported(message: string): RouteHandler {
  return () => {
    throw new NotImplemented(message);
  };
}

/** Images: list, inspect, history, tag, remove, import, load, save; search says why not (pull and push: routes/registry.ts). */
export const imageRoutes: RouteModule = {
  name: 'images',
  register(routes) {
    routes.add('GET', '/images/json', list);
    routes.add('POST', '/images/create', createImage);
    routes.add('POST', '/images/load', load);
    routes.add('GET', '/images/get', (ctx) =>
      save(
        ctx,
        ctx.query.getAll('names').filter((n) => !isUnset(n)),
      ),
    );
    routes.add('POST', '/images/prune', prune);
    routes.add('GET', '/images/search', unsupported('berth cannot search registries yet: it has no registry client'));
    routes.add('GET', '/images/{name*}/json', inspect);
    routes.add('GET', '/images/{name*}/history', history);
    routes.add('GET', '/images/{name*}/get', (ctx) => save(ctx, [ctx.params.name]));
    routes.add('POST', '/images/{name*}/tag', tag);
    routes.add('DELETE', '/images/{name*}', remove);
  },
};
