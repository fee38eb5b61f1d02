import type { IncomingMessage } from 'node:http';
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
 * Reads a JSON body. A body whose Content-Type is not JSON gets dockerd's 400; a
 * malformed one a 400 that says what is wrong (dockerd answers 500 there; no client
 * depends on it). An empty body is `undefined`: empty POSTs need no Content-Type.
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
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidArgument(`malformed JSON in request body: ${(err as Error).message}`);
  }
}
