import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { InvalidArgument } from '@berth/core';
import { PayloadTooLarge } from './http-errors.js';

/** Bodies of JSON requests are small; a bigger one is a client bug or an attack. */
const maxJsonBody = 16 * 1024 * 1024;

/**
 * Reads the whole body of a request. Past `limit` it rejects with a 413 at once and
 * keeps discarding what still arrives, so the client can read the answer instead of
 * being reset mid-upload (the server closes the connection once the 413 is out).
 */
export function readBody(req: IncomingMessage, limit = maxJsonBody): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks = [];
        reject(new PayloadTooLarge(`request body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** True for `application/json` with or without parameters (`; charset=utf-8`). */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semi = contentType.indexOf(';');
  const media = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return media === 'application/json';
}

/**
 * Deepest nesting of arrays and objects a JSON body may have. A container config nests
 * a handful of levels; thousands would overflow the stack of whatever walks the value
 * later (JSON.stringify when the engine saves it), a 500 for a client's mistake. Go's
 * encoding/json stops at 10000; V8's recursion runs out well before that.
 */
export const maxJsonDepth = 512;

/** True when `text` nests arrays and objects deeper than `limit` (brackets inside strings do not count). One pass, no recursion. */
export function jsonDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Reads a JSON body. A body whose Content-Type is not JSON gets dockerd's 400; a
 * malformed one a 400 that says what is wrong (dockerd answers 500 there; no client
 * depends on it). An empty body is `undefined`: empty POSTs need no Content-Type.
 * Nesting deeper than `maxJsonDepth` is a 400 too.
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req);
  if (body.length === 0) return undefined;
  const contentType = req.headers['content-type'];
  if (!isJsonContentType(contentType)) {
    throw new InvalidArgument(`Content-Type specified (${contentType ?? ''}) must be 'application/json'`);
  }
  const text = body.toString('utf8');
  if (text.trim() === '') return undefined;
  if (jsonDeeperThan(text, maxJsonDepth)) throw new InvalidArgument(`request body nests JSON deeper than ${maxJsonDepth} levels`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidArgument(`malformed JSON in request body: ${(err as Error).message}`);
  }
}

/**
 * An upload (a tar for `load` or `import`) as the engine should read it: a pipe of the
 * request, not the request itself. A reader that gives up on a bad tar destroys what it
 * reads; destroying the request would leave its client blocked in the middle of sending,
 * never reading the answer. Lifecycle: the route hands `body` to the engine; when the
 * engine fails, `discardRest()` unpipes and reads the rest of the upload into nothing, so
 * the client finishes sending and reads the error (the stall watch still bounds a client
 * that stops sending). An upload cut short destroys `body` with an error.
 */
export function pipedUpload(req: IncomingMessage): { body: PassThrough; discardRest(): void } {
  const body = new PassThrough({ highWaterMark: 1 << 20 });
  req.pipe(body);
  // A pipe carries neither an error nor an early end: an upload cut short (the client
  // left, a stall answered 408) must fail the engine's reading, which then removes what
  // it had begun, rather than leave it waiting for bytes that never come.
  const cut = (err?: Error) => {
    if (!req.complete && !body.destroyed) body.destroy(err ?? new Error('the request body ended before it was complete'));
  };
  req.once('error', cut);
  req.once('close', () => cut());
  return {
    body,
    discardRest() {
      req.unpipe(body);
      if (!req.complete && !req.destroyed) req.resume();
    },
  };
}
