import type { Duplex } from 'node:stream';
import { type AttachOptions, type AttachSession, statusOf } from '@berth/core';
import type { HijackContext, RequestContext } from '../context.js';
import { frame } from '../frames.js';
import { boolParam } from '../query.js';
import { errorBody, rawResponse } from '../respond.js';
import type { RouteModule } from '../route-module.js';

/**
 * dockerd's answer to an attach upgrade, byte for byte: the CLI and docker-py check the
 * status line and the `Upgrade: tcp` header before they treat the socket as a stream.
 */
export const upgradeResponse =
  'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n';

/** After the stream ended, a client that never closes its side is cut off after this long. */
const lingerMs = 30_000;

function attachOptions(query: URLSearchParams): AttachOptions {
  return {
    stdin: boolParam(query, 'stdin'),
    stdout: boolParam(query, 'stdout'),
    stderr: boolParam(query, 'stderr'),
    logs: boolParam(query, 'logs'),
    stream: boolParam(query, 'stream'),
  };
}

/** Turns session output into what goes on the wire: frames without a tty, raw bytes with one. */
function outputWriter(session: AttachSession, options: AttachOptions, write: (data: Buffer) => void) {
  return (stream: 'stdout' | 'stderr', data: Buffer) => {
    if (stream === 'stdout' ? !options.stdout : !options.stderr) return;
    write(session.tty ? data : frame(stream, data));
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
  try {
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

  // The request's own body (Content-Length bytes) precedes stdin in the stream.
  let bodyLeft = Number(ctx.req.headers['content-length'] ?? 0) || 0;
  const fromClient = (data: Buffer) => {
    if (bodyLeft > 0) {
      const skip = Math.min(bodyLeft, data.length);
      bodyLeft -= skip;
      data = data.subarray(skip);
    }
    if (data.length > 0 && options.stdin) session.writeStdin(data);
  };

  let over = false;
  const unsubscribe = session.onOutput(outputWriter(session, options, (data) => socket.write(data)));
  const finish = (detach: boolean) => {
    if (over) return;
    over = true;
    unsubscribe();
    if (detach) session.detach();
  };

  socket.on('data', fromClient);
  socket.on('end', () => {
    if (options.stdin) session.closeStdin();
  });
  socket.on('error', () => finish(true));
  socket.on('close', () => finish(true));
  if (ctx.head.length > 0) fromClient(ctx.head);
  socket.resume();

  session.ended.then(
    () => endSocket(socket, () => finish(false)),
    () => endSocket(socket, () => finish(false)),
  );
}

function endSocket(socket: Duplex, finish: () => void): void {
  if (socket.destroyed) return;
  finish();
  socket.end();
  // Closing with unread client bytes would send a RST that can destroy output the client
  // has not read yet, so we only half-close and let the client finish; a client that
  // never does is dropped later.
  setTimeout(() => socket.destroy(), lingerMs).unref();
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
  const unsubscribe = session.onOutput(outputWriter(session, options, (data) => res.write(data)));
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
