import { type AttachOptions, type AttachSession, defaultDetachKeys, parseDetachKeys, statusOf } from '@berth/core';
import type { HijackContext, RequestContext } from '../context.js';
import { outputWriter, serveHijacked, upgradeResponse } from '../hijacked-stream.js';
import { boolParam, stringParam } from '../query.js';
import { errorBody, rawResponse } from '../respond.js';
import type { RouteModule } from '../route-module.js';

function attachOptions(query: URLSearchParams): AttachOptions {
  return {
    stdin: boolParam(query, 'stdin'),
    stdout: boolParam(query, 'stdout'),
    stderr: boolParam(query, 'stderr'),
    logs: boolParam(query, 'logs'),
    stream: boolParam(query, 'stream'),
  };
}

/**
 * `POST /containers/{id}/attach` with `Upgrade: tcp` (the CLI, docker-py, compose).
 * The session is opened before the 101 goes out, so a `start` the client sends next
 * cannot lose output. Then the socket is a pipe: client bytes are stdin (when asked
 * for), output goes back framed or raw. The client's FIN closes stdin and nothing
 * else: the CLI half-closes at once when it has no stdin and keeps reading.
 * The end of output is signalled by closing the socket; a client that vanishes
 * detaches, leaving the container running.
 */
async function attachHijacked(ctx: HijackContext<'id'>): Promise<void> {
  const { socket, scope } = ctx;
  const options = attachOptions(ctx.query);
  socket.pause();
  let session: AttachSession;
  let detachKeys: Buffer;
  try {
    detachKeys = parseDetachKeys(stringParam(ctx.query, 'detachKeys') || defaultDetachKeys);
    session = await scope.engine.containers.attach(ctx.params.id, options);
  } catch (err) {
    if (statusOf(err) >= 500) scope.log.error('attach failed', { container: ctx.params.id, error: String(err) });
    socket.end(rawResponse(statusOf(err), scope.headers, 'application/json', errorBody(err)));
    return;
  }
  if (socket.destroyed) {
    session.detach();
    return;
  }
  socket.write(upgradeResponse);
  const streams = { stdin: !!options.stdin, stdout: !!options.stdout, stderr: !!options.stderr, detachKeys };
  serveHijacked(socket, session, streams, ctx.head, Number(ctx.req.headers['content-length'] ?? 0) || 0);
}

/**
 * The same route without `Upgrade` (curl, some libraries): 200 with the raw-stream
 * type, no length and no chunking, the output, then the connection closes, as dockerd does.
 * Stdin, when asked for, is the request body. Unlike the upgraded form, a client FIN
 * ends the exchange here: Node's HTTP server reads it as the client leaving, which is
 * also how a departed `logs -f` or `/events` client is noticed.
 */
async function attachPlain(ctx: RequestContext<'id'>): Promise<void> {
  const { req, res, scope } = ctx;
  const options = attachOptions(ctx.query);
  const session = await scope.engine.containers.attach(ctx.params.id, options);
  res.removeHeader('Transfer-Encoding');
  res.removeHeader('Content-Length');
  res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream', Connection: 'close' });
  res.flushHeaders();
  let over = false;
  const streams = { stdin: !!options.stdin, stdout: !!options.stdout, stderr: !!options.stderr };
  const unsubscribe = session.onOutput(outputWriter(session, streams, (data) => res.write(data)));
  const finish = (detach: boolean) => {
    if (over) return;
    over = true;
    unsubscribe();
    if (detach) session.detach();
  };
  if (options.stdin) {
    req.on('data', (data: Buffer) => session.writeStdin(data));
    req.on('end', () => session.closeStdin());
  } else {
    req.resume();
  }
  res.on('close', () => finish(true));
  session.ended.then(
    () => {
      finish(false);
      res.end();
    },
    () => {
      finish(false);
      res.end();
    },
  );
}

/** `POST /containers/{id}/attach`, hijacked (`Upgrade: tcp`) and plain. */
export const attachRoutes: RouteModule = {
  name: 'attach',
  register(routes) {
    routes.add('POST', '/containers/{id}/attach', attachPlain);
    routes.hijack('POST', '/containers/{id}/attach', attachHijacked);
  },
};
