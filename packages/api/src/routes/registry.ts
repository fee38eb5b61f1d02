import type { ProgressMessage } from '@berth/core';
import { InvalidArgument } from '@berth/core';
import type { RequestContext } from '../context.js';
import { stringParam } from '../query.js';
import { decodeRegistryAuthHeader, registryAuthOf } from '../registry-auth-header.js';
import { readJsonBody } from '../request-body.js';
import { errorMessage, sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';
import { clientGoneSignal, jsonLine, startJsonLines } from '../stream-write.js';

/**
 * A JSON-lines progress stream that starts with its first line: an error before any
 * line is thrown to the router (a normal error response, as dockerd answers a pull of an
 * unknown manifest with a 404), an error after it goes in the stream as
 * `{"errorDetail":{"message":…},"error":…}`, which the docker CLI and docker-py raise.
 */
async function progressStream(
  ctx: RequestContext,
  run: (progress: (m: ProgressMessage) => void, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const { res } = ctx;
  let started = false;
  const progress = (message: ProgressMessage) => {
    if (res.destroyed || res.writableEnded) return;
    if (!started) {
      startJsonLines(res);
      started = true;
    }
    res.write(jsonLine(message));
  };
  try {
    await run(progress, clientGoneSignal(res));
  } catch (err) {
    if (!started) throw err;
    const message = errorMessage(err);
    if (!res.destroyed) res.end(jsonLine({ errorDetail: { message }, error: message }));
    return;
  }
  if (!started) startJsonLines(res);
  res.end();
}

/**
 * `POST /images/create?fromImage=&tag=&platform=` (called by the images module): `tag`
 * may be a digest (`sha256:…`, the CLI's `name@digest`); no tag on a name without one
 * pulls every tag (`docker pull -a`).
 */
export async function pullFromRegistry(ctx: RequestContext, fromImage: string): Promise<void> {
  const tag = stringParam(ctx.query, 'tag');
  const lastPart = fromImage.slice(fromImage.lastIndexOf('/') + 1);
  const hasOwnTag = fromImage.includes('@') || lastPart.includes(':');
  let ref = fromImage;
  if (tag !== undefined && !hasOwnTag) ref += tag.startsWith('sha256:') ? `@${tag}` : `:${tag}`;
  const auth = decodeRegistryAuthHeader(ctx.req.headers['x-registry-auth']);
  const platform = stringParam(ctx.query, 'platform');
  await progressStream(ctx, (progress, signal) =>
    ctx.scope.engine.images.pull(ref, { allTags: tag === undefined && !hasOwnTag, platform, auth, progress, signal }),
  );
}

/** `POST /images/{name}/push?tag=`: one tag, or every tag of the repository without one. */
async function push(ctx: RequestContext<'name'>): Promise<void> {
  const tag = stringParam(ctx.query, 'tag');
  const ref = tag !== undefined ? `${ctx.params.name}:${tag}` : ctx.params.name;
  const auth = decodeRegistryAuthHeader(ctx.req.headers['x-registry-auth']);
  await progressStream(ctx, (progress, signal) => ctx.scope.engine.images.push(ref, { auth, progress, signal }));
}

/** `POST /auth` (docker login): the credentials checked against the registry; `{"Status":"Login Succeeded"}`. */
async function login(ctx: RequestContext): Promise<void> {
  const body = await readJsonBody(ctx.req);
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InvalidArgument('invalid login request: expected a JSON object');
  const auth = registryAuthOf(body as Record<string, unknown>) ?? {};
  const answer = await ctx.scope.engine.images.login(auth);
  sendJson(ctx.res, 200, { IdentityToken: answer.IdentityToken ?? '', Status: answer.Status });
}

/** What talks to registries: push and login (pull is `POST /images/create?fromImage=`, in the images module). */
export const registryRoutes: RouteModule = {
  name: 'registry',
  register(routes) {
    routes.add('POST', '/images/{name*}/push', push);
    routes.add('POST', '/auth', login);
  },
};
