import type { Duplex } from 'node:stream';
import { type AttachSession, DetachKeyScanner } from '@berth/core';
import { frame } from './frames.js';

/**
 * dockerd's answer to an attach or exec-start upgrade, byte for byte: the CLI and
 * docker-py check the status line and the `Upgrade: tcp` header before they treat the
 * socket as a stream.
 */
export const upgradeResponse =
  'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n';

/** After the stream ended, a client that never closes its side is cut off after this long. */
const lingerMs = 30_000;

/** Which of a session's streams a client asked for, and the detach sequence to watch its stdin for. */
export interface StreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Bytes that detach the client (parsed detach keys); none: never. */
  detachKeys?: Buffer;
}

/** Turns session output into what goes on the wire: frames without a tty, raw bytes with one. */
export function outputWriter(session: AttachSession, options: StreamOptions, write: (data: Buffer) => void) {
  return (stream: 'stdout' | 'stderr', data: Buffer) => {
    if (stream === 'stdout' ? !options.stdout : !options.stderr) return;
    write(session.tty ? data : frame(stream, data));
  };
}

/**
 * Serve a session on a hijacked socket whose 101 is out: client bytes are stdin (when
 * asked for; `input` is what came with the headers, whose first `bodyLength` bytes are
 * the request's body and skipped), output goes back framed or
 * raw. The client's FIN closes stdin and nothing else (the CLI half-closes at once when
 * it has no stdin and keeps reading). The detach keys, when typed, detach the session
 * and close the socket, as dockerd does. The end of output is signalled by closing the
 * socket; a client that vanishes detaches, leaving the process running.
 */
export function serveHijacked(socket: Duplex, session: AttachSession, options: StreamOptions, input: Buffer, bodyLength = 0): void {
  const body = skipBody(bodyLength);
  const scanner = options.stdin && options.detachKeys?.length ? new DetachKeyScanner(options.detachKeys) : undefined;
  let over = false;
  const unsubscribe = session.onOutput(outputWriter(session, options, (data) => socket.write(data)));
  const finish = (detach: boolean) => {
    if (over) return;
    over = true;
    unsubscribe();
    if (detach) session.detach();
  };
  const fromClient = (chunk: Buffer) => {
    const data = body(chunk);
    if (over || !options.stdin || data.length === 0) return;
    if (!scanner) return session.writeStdin(data);
    const { pass, detach } = scanner.push(data);
    if (pass.length > 0) session.writeStdin(pass);
    if (detach) endSocket(socket, () => finish(true));
  };
  socket.on('data', fromClient);
  socket.on('end', () => {
    if (options.stdin && !over) session.closeStdin();
  });
  socket.on('error', () => finish(true));
  socket.on('close', () => finish(true));
  fromClient(input);
  socket.resume();
  const ended = () => endSocket(socket, () => finish(false));
  session.ended.then(ended, ended);
}

/** Skip the request's own body (`length` bytes) at the start of a hijacked stream; returns a function of each chunk. */
export function skipBody(length: number): (data: Buffer) => Buffer {
  let left = length;
  return (data) => {
    if (left <= 0) return data;
    const skip = Math.min(left, data.length);
    left -= skip;
    return data.subarray(skip);
  };
}

export function endSocket(socket: Duplex, finish: () => void): void {
  if (socket.destroyed) return;
  finish();
  socket.end();
  // Closing with unread client bytes would send a RST that can destroy output the client
  // has not read yet, so we only half-close and let the client finish; a client that
  // never does is dropped later.
  setTimeout(() => socket.destroy(), lingerMs).unref();
}
