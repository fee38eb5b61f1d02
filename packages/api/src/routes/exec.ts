import type { Duplex } from 'node:stream';
import {
  type AttachSession,
  defaultDetachKeys,
  type ExecInspect,
  execCreateShape,
  InvalidArgument,
  parseDetachKeys,
  statusOf,
} from '@berth/core';
import type { HijackContext, RequestContext } from '../context.js';
import { outputWriter, serveHijacked, upgradeResponse } from '../hijacked-stream.js';
import { intParam } from '../query.js';
import { isJsonContentType, readJsonBody } from '../request-body.js';
import { errorBody, rawResponse, sendEmpty, sendJson } from '../respond.js';
import type { RouteModule } from '../route-module.js';

/** `POST /containers/{id}/exec`: 201 `{"Id"}`; the body is checked against Docker's types first. */
async function create(ctx: RequestContext<'id'>): Promise<void> {
  const raw = await readJsonBody(ctx.req);
  if (raw === undefined || raw === null) throw new InvalidArgument('No exec command specified');
  const body = execCreateShape.parse(raw, '');
  if (body.DetachKeys) parseDetachKeys(body.DetachKeys); // refused now, not at start
  sendJson(ctx.res, 201, await ctx.scope.engine.execs.create(ctx.params.id, body));
}

async function inspect(ctx: RequestContext<'id'>): Promise<void> {
  sendJson(ctx.res, 200, await ctx.scope.engine.execs.inspect(ctx.params.id));
}

/** The terminal size of an exec (`docker exec -t` sends it at start and on SIGWINCH). */
async function resizeExec(ctx: RequestContext<'id'>): Promise<void> {
  const { height, width } = size(ctx.query);
  await ctx.scope.engine.execs.resize(ctx.params.id, height, width);
  sendEmpty(ctx.res, 200);
}

/** `POST /containers/{id}/resize`: the terminal size of a running container. */
async function resizeContainer(ctx: RequestContext<'id'>): Promise<void> {
  const { height, width } = size(ctx.query);
  await ctx.scope.engine.containers.resize(ctx.params.id, height, width);
  sendEmpty(ctx.res, 200);
}

function size(query: URLSearchParams): { height: number; width: number } {
  const height = intParam(query, 'h') ?? 0;
  const width = intParam(query, 'w') ?? 0;
  if (height < 0 || width < 0 || height > 65535 || width > 65535) throw new InvalidArgument(`invalid terminal size ${height}x${width}`);
  return { height, width };
}

/** Exec start's body: `{"Detach": bool, "Tty": bool}` (Tty is the exec's own; the body's is informative). */
function startBody(raw: unknown): { detach: boolean } {
  if (raw === undefined || raw === null) return { detach: false };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidArgument('exec start: the body must be a JSON object');
  const detach = (raw as { Detach?: unknown }).Detach;
  if (detach !== undefined && detach !== null && typeof detach !== 'boolean')
    throw new InvalidArgument('exec start: Detach must be a boolean');
  return { detach: detach === true };
}

/**
 * `POST /exec/{id}/start` without `Upgrade`. Detached (`docker exec -d`): 200 and an
 * empty body once the process runs. Attached: as dockerd, the connection carries the
 * output raw (200, raw-stream type, no length), then closes.
 */
async function startPlain(ctx: RequestContext<'id'>): Promise<void> {
  const { res, scope } = ctx;
  const { detach } = startBody(await readJsonBody(ctx.req));
  const exec = await scope.engine.execs.inspect(ctx.params.id);
  const session = await scope.engine.execs.start(ctx.params.id, { detach });
  if (!session) return sendEmpty(res, 200);
  res.removeHeader('Transfer-Encoding');
  res.removeHeader('Content-Length');
  res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream', Connection: 'close' });
  res.flushHeaders();
  const unsubscribe = session.onOutput(outputWriter(session, streamsOf(exec), (data) => res.write(data)));
  res.on('close', () => {
    unsubscribe();
    session.detach();
  });
  const end = () => res.end();
  session.ended.then(end, end);
}

/**
 * `POST /exec/{id}/start` with `Upgrade: tcp` (`docker exec`, docker-py). The body comes
 * first in the stream (read to its Content-Length), then stdin. An unknown exec or a bad
 * body is a plain JSON error; the 101 goes out before the process starts (dockerd's
 * order), so a failure to start, like a process the runtime cannot run, is the message on
 * the stream, as dockerd writes it (its ExitCode then says 126 or 127). The exec's detach
 * keys detach.
 */
async function startHijacked(ctx: HijackContext<'id'>): Promise<void> {
  const { socket, scope } = ctx;
  socket.pause();
  let session: AttachSession | undefined;
  let exec: ExecInspect;
  let rest: Buffer;
  let upgraded = false;
  try {
    const { body, rest: after } = await readHijackedBody(socket, ctx.head, Number(ctx.req.headers['content-length'] ?? 0) || 0);
    rest = after;
    let raw: unknown;
    if (body.length > 0) {
      if (!isJsonContentType(ctx.req.headers['content-type']))
        throw new InvalidArgument("Content-Type specified must be 'application/json'");
      try {
        raw = JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw new InvalidArgument(`malformed JSON in request body: ${(err as Error).message}`);
      }
    }
    const { detach } = startBody(raw);
    exec = await scope.engine.execs.inspect(ctx.params.id);
    if (!detach) {
      // As dockerd, the 101 goes out before the process starts: docker-py reads the head
      // through a buffered HTTP parser, then the raw socket, and would lose output that
      // came in the same read as the 101.
      if (socket.destroyed) return;
      socket.write(upgradeResponse);
      upgraded = true;
    }
    session = await scope.engine.execs.start(ctx.params.id, { detach });
  } catch (err) {
    if (statusOf(err) >= 500) scope.log.error('exec start failed', { exec: ctx.params.id, error: String(err) });
    // After the 101 the error can only be text on the stream, as dockerd writes it.
    if (upgraded) socket.end(`${(err as Error).message}\r\n`);
    else socket.end(rawResponse(statusOf(err), scope.headers, 'application/json', errorBody(err)));
    return;
  }
  if (!session) {
    socket.end(rawResponse(200, scope.headers, 'text/plain', ''));
    return;
  }
  if (socket.destroyed) {
    session.detach();
    return;
  }
  const streams = { ...streamsOf(exec), detachKeys: parseDetachKeys(exec.DetachKeys || defaultDetachKeys) };
  serveHijacked(socket, session, streams, rest);
}

function streamsOf(exec: ExecInspect) {
  return { stdin: exec.OpenStdin, stdout: exec.OpenStdout, stderr: exec.OpenStderr };
}

/** The request body of a hijacked request (`length` bytes, some in `head`, the rest still to come) and what follows it. */
function readHijackedBody(socket: Duplex, head: Buffer, length: number): Promise<{ body: Buffer; rest: Buffer }> {
  if (head.length >= length) return Promise.resolve({ body: head.subarray(0, length), rest: head.subarray(length) });
  if (length > 1 << 20) return Promise.reject(new InvalidArgument(`request body exceeds ${1 << 20} bytes`));
  return new Promise((resolve, reject) => {
    let got = head;
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < length) return;
      socket.pause();
      cleanup();
      resolve({ body: got.subarray(0, length), rest: got.subarray(length) });
    };
    const onEnd = () => {
      cleanup();
      reject(new InvalidArgument('exec start: the connection ended before the request body'));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.resume();
  });
}

/** `docker exec` (create, start attached or detached, inspect, resize) and container resize. */
export const execRoutes: RouteModule = {
  name: 'exec',
  register(routes) {
    routes.add('POST', '/containers/{id}/exec', create);
    routes.add('POST', '/containers/{id}/resize', resizeContainer);
    routes.add('GET', '/exec/{id}/json', inspect);
    routes.add('POST', '/exec/{id}/resize', resizeExec);
    routes.add('POST', '/exec/{id}/start', startPlain);
    routes.hijack('POST', '/exec/{id}/start', startHijacked);
  },
};
