import type { ServerResponse } from 'node:http';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { type ContainerPathStat, InvalidArgument } from '@berth/core';
import type { RequestContext } from '../context.js';
import { boolParam, isUnset, optionalBoolParam, stringParam } from '../query.js';
import { sendEmpty, sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';

/** `GET /containers/{id}/changes`: `[{Path, Kind}]`, Kind 0 modified, 1 added, 2 deleted. */
async function changes(ctx: RequestContext<'id'>): Promise<void> {
  sendJson(ctx.res, 200, await ctx.scope.engine.filesystems.changes(ctx.params.id));
}

/** `GET /containers/{id}/export`: the root filesystem as a tar. */
async function exportContainer(ctx: RequestContext<'id'>): Promise<void> {
  const tar = await ctx.scope.engine.filesystems.export(ctx.params.id);
  await sendTar(ctx.res, tar);
}

/** `POST /commit?container=&repo=&tag=&comment=&author=&changes=&pause=`: 201 `{Id}`. */
async function commit(ctx: RequestContext): Promise<void> {
  const { query } = ctx;
  const container = stringParam(query, 'container');
  if (container === undefined) throw new InvalidArgument('missing query parameter: container');
  const changeList = query.getAll('changes').filter((c) => !isUnset(c));
  const id = await ctx.scope.engine.filesystems.commit(container, {
    repo: stringParam(query, 'repo'),
    tag: stringParam(query, 'tag'),
    comment: stringParam(query, 'comment'),
    author: stringParam(query, 'author'),
    changes: changeList.length > 0 ? changeList : undefined,
    pause: optionalBoolParam(query, 'pause') ?? true,
  });
  sendJson(ctx.res, 201, { Id: id });
}

function pathParam(ctx: RequestContext): string {
  const p = stringParam(ctx.query, 'path');
  if (p === undefined) throw new InvalidArgument('missing query parameter: path');
  return p;
}

/** The header the docker CLI reads a path's stat from: base64 of its JSON. */
function statHeader(stat: ContainerPathStat): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

/** `HEAD /containers/{id}/archive?path=`: 200 with the stat header, 404 when the path is missing. */
async function headArchive(ctx: RequestContext<'id'>): Promise<void> {
  const stat = await ctx.scope.engine.filesystems.statPath(ctx.params.id, pathParam(ctx));
  ctx.res.writeHead(200, { 'X-Docker-Container-Path-Stat': statHeader(stat), 'Content-Length': 0 });
  ctx.res.end();
}

/** `GET /containers/{id}/archive?path=`: the stat header and a tar of the path. */
async function getArchive(ctx: RequestContext<'id'>): Promise<void> {
  const { stat, tar } = await ctx.scope.engine.filesystems.getArchive(ctx.params.id, pathParam(ctx));
  ctx.res.setHeader('X-Docker-Container-Path-Stat', statHeader(stat));
  await sendTar(ctx.res, tar);
}

/**
 * `PUT /containers/{id}/archive?path=&copyUIDGID=&noOverwriteDirNonDir=`: a tar unpacked into the directory
 * `path`; 200. The engine reads a pipe of the body, not the request itself: a refused
 * tar ends the pipe, and the request stays whole for the error answer (which closes the
 * connection, the rest of the body unread).
 */
async function putArchive(ctx: RequestContext<'id'>): Promise<void> {
  const body = new PassThrough();
  ctx.req.pipe(body);
  try {
    await ctx.scope.engine.filesystems.putArchive(ctx.params.id, pathParam(ctx), body, {
      copyUIDGID: boolParam(ctx.query, 'copyUIDGID'),
      noOverwriteDirNonDir: boolParam(ctx.query, 'noOverwriteDirNonDir'),
    });
  } finally {
    ctx.req.unpipe(body);
  }
  sendEmpty(ctx.res, 200);
}

async function sendTar(res: ServerResponse, tar: Readable): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  await new Promise<void>((resolve) => {
    pipeline(tar, res, (err) => {
      // Headers are out: the only way left to signal a broken archive is to cut it short.
      if (err && !res.destroyed) res.destroy();
      resolve();
    });
  });
}

/** A container's filesystem: diff, export, commit, and cp's archive endpoints. */
export const containerFileRoutes: RouteModule = {
  name: 'container-files',
  register(routes) {
    routes.add('GET', '/containers/{id}/changes', changes);
    routes.add('GET', '/containers/{id}/export', exportContainer);
    routes.add('POST', '/commit', commit);
    routes.add('HEAD', '/containers/{id}/archive', headArchive);
    routes.add('GET', '/containers/{id}/archive', getArchive);
    routes.add('PUT', '/containers/{id}/archive', putArchive);
  },
};
