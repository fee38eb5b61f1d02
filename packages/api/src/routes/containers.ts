import { containerCreateShape, InvalidArgument, type LogsOptions, NotImplemented, type WaitCondition, type WaitResult } from '@berth/core';
import type { RequestContext } from '../context.js';
import { frame, frameWithPrefix } from '../frames.js';
import { boolParam, filtersParam, intParam, stringParam, timeParam } from '../query.js';
import { readJsonBody } from '../request-body.js';
import { errorMessage, sendEmpty, sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';
import { clientGoneSignal, writeChunk } from '../stream-write.js';

/**
 * `POST /containers/create`. The body is checked against Docker's types before the engine
 * sees it: a mistyped field is a 400 naming it, and what reaches the engine holds Docker's
 * fields only, none of them null (core's `containerCreateShape`, api/shape.ts there).
 */
async function create(ctx: RequestContext): Promise<void> {
  const raw = await readJsonBody(ctx.req);
  if (raw === undefined || raw === null) {
    throw new InvalidArgument('config cannot be empty in order to create a container');
  }
  const body = containerCreateShape.parse(raw, '');
  const name = stringParam(ctx.query, 'name');
  const created = await ctx.scope.engine.containers.create(body, name);
  sendJson(ctx.res, 201, { Id: created.Id, Warnings: created.Warnings ?? [] });
}

async function list(ctx: RequestContext): Promise<void> {
  const { query } = ctx;
  const limit = intParam(query, 'limit');
  const containers = await ctx.scope.engine.containers.list({
    all: boolParam(query, 'all'),
    // docker-py sends limit=-1 for "no limit".
    limit: limit !== undefined && limit > 0 ? limit : undefined,
    size: boolParam(query, 'size'),
    filters: filtersParam(query),
  });
  sendJson(ctx.res, 200, containers);
}

async function inspect(ctx: RequestContext<'id'>): Promise<void> {
  sendJson(ctx.res, 200, await ctx.scope.engine.containers.inspect(ctx.params.id));
}

/** 204; starting a running container is the engine's NotModified, answered 304 like dockerd. */
async function start(ctx: RequestContext<'id'>): Promise<void> {
  await ctx.scope.engine.containers.start(ctx.params.id);
  sendEmpty(ctx.res, 204);
}

async function stop(ctx: RequestContext<'id'>): Promise<void> {
  await ctx.scope.engine.containers.stop(ctx.params.id, intParam(ctx.query, 't'));
  sendEmpty(ctx.res, 204);
}

async function kill(ctx: RequestContext<'id'>): Promise<void> {
  await ctx.scope.engine.containers.kill(ctx.params.id, stringParam(ctx.query, 'signal'));
  sendEmpty(ctx.res, 204);
}

/** 204; the engine stops a running container with `t` and starts it (a stopped one is just started). */
async function restart(ctx: RequestContext<'id'>): Promise<void> {
  await ctx.scope.engine.containers.restart(ctx.params.id, intParam(ctx.query, 't'));
  sendEmpty(ctx.res, 204);
}

async function remove(ctx: RequestContext<'id'>): Promise<void> {
  if (boolParam(ctx.query, 'link')) throw new NotImplemented('container links are not supported by berth');
  await ctx.scope.engine.containers.remove(ctx.params.id, {
    force: boolParam(ctx.query, 'force'),
    volumes: boolParam(ctx.query, 'v'),
  });
  sendEmpty(ctx.res, 204);
}

const waitConditions: Record<string, WaitCondition> = {
  'not-running': 'not-running',
  'next-exit': 'next-exit',
  removed: 'removed',
};

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** The outcome of `p` if it settles before the event loop turns once, else undefined. */
function settledAtOnce<T>(p: Promise<T>): Promise<Settled<T> | undefined> {
  return new Promise((resolve) => {
    const turn = setImmediate(() => resolve(undefined));
    p.then(
      (value) => {
        clearImmediate(turn);
        resolve({ ok: true, value });
      },
      (error: unknown) => {
        clearImmediate(turn);
        resolve({ ok: false, error });
      },
    );
  });
}

function waitBody(result: WaitResult): string {
  return `${JSON.stringify({ Error: result.Error ?? null, StatusCode: result.StatusCode })}\n`;
}

/**
 * `POST /containers/{id}/wait`. `docker run` sends it beside `start` and blocks until
 * the response headers arrive before it sends `start`, so the headers are flushed as
 * soon as the engine has accepted the wait; an engine that refuses at once (no such
 * container, 404) gets a real status. A failure after the headers is reported in the
 * body, as dockerd does.
 */
async function wait(ctx: RequestContext<'id'>): Promise<void> {
  const raw = stringParam(ctx.query, 'condition') ?? 'not-running';
  const condition = waitConditions[raw];
  if (!condition) throw new InvalidArgument(`invalid condition: "${raw}" (expected not-running, next-exit or removed)`);
  const pending = ctx.scope.engine.containers.wait(ctx.params.id, condition);
  const early = await settledAtOnce(pending);
  if (early && !early.ok) throw early.error;
  const { res } = ctx;
  res.writeHead(200, { 'Content-Type': 'application/json' });
  if (early) {
    res.end(waitBody(early.value));
    return;
  }
  res.flushHeaders();
  let result: WaitResult;
  try {
    result = await pending;
  } catch (err) {
    result = { StatusCode: -1, Error: { Message: errorMessage(err) } };
  }
  res.end(waitBody(result));
}

function tailParam(query: URLSearchParams): number | 'all' {
  const raw = stringParam(query, 'tail');
  if (raw === undefined || raw === 'all') return 'all';
  const n = Number(raw);
  // dockerd reads anything that is not a count as "all".
  return Number.isInteger(n) && n >= 0 ? n : 'all';
}

/**
 * `GET /containers/{id}/logs`: chunked, one frame per line (raw bytes for a tty), and no
 * Content-Type, as dockerd answers at API 1.41 (clients read the frames without it).
 * With `follow` it runs until the container stops or the client goes away; the engine
 * learns the latter from `signal`.
 */
async function logs(ctx: RequestContext<'id'>): Promise<void> {
  const { query, res } = ctx;
  const stdout = boolParam(query, 'stdout');
  const stderr = boolParam(query, 'stderr');
  if (!stdout && !stderr) throw new InvalidArgument('Bad parameters: you must choose at least one stream');
  const timestamps = boolParam(query, 'timestamps');
  const since = timeParam(query, 'since');
  const until = timeParam(query, 'until');
  const signal = clientGoneSignal(res);
  const options: LogsOptions = {
    follow: boolParam(query, 'follow'),
    stdout,
    stderr,
    timestamps,
    tail: tailParam(query),
    signal,
  };
  if (since !== undefined && since !== 0) options.since = since;
  if (until !== undefined && until !== 0) options.until = until;
  const { tty, lines } = await ctx.scope.engine.containers.logs(ctx.params.id, options);
  res.writeHead(200);
  res.flushHeaders();
  try {
    for await (const line of lines) {
      if (signal.aborted) break;
      if (line.stream === 'stdout' ? !stdout : !stderr) continue;
      let chunk: Buffer;
      if (tty) chunk = timestamps ? Buffer.concat([Buffer.from(`${line.time} `), line.data]) : line.data;
      else chunk = timestamps ? frameWithPrefix(line.stream, `${line.time} `, line.data) : frame(line.stream, line.data);
      if (!(await writeChunk(res, chunk))) break;
    }
  } catch (err) {
    if (!signal.aborted) {
      ctx.scope.log.warn('log stream failed', { container: ctx.params.id, error: errorMessage(err) });
      res.destroy();
      return;
    }
  }
  res.end();
}

/** The container lifecycle, inspection, wait and logs (attach is `attachRoutes`). */
export const containerRoutes: RouteModule = {
  name: 'containers',
  register(routes) {
    routes.add('POST', '/containers/create', create);
    routes.add('GET', '/containers/json', list);
    routes.add('GET', '/containers/{id}/json', inspect);
    routes.add('POST', '/containers/{id}/start', start);
    routes.add('POST', '/containers/{id}/stop', stop);
    routes.add('POST', '/containers/{id}/kill', kill);
    routes.add('POST', '/containers/{id}/restart', restart);
    routes.add('POST', '/containers/{id}/wait', wait);
    routes.add('DELETE', '/containers/{id}', remove);
    routes.add('GET', '/containers/{id}/logs', logs);
  },
};
