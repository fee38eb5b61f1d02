import * as http from 'node:http';
import * as https from 'node:https';
import { Readable } from 'node:stream';
import { SystemError } from '@berth/core';

/** One HTTP request to a registry or its token server. */
export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string | string[]>;
  /** A body in memory, or a stream (then `headers` should carry its Content-Length). */
  body?: Buffer | AsyncIterable<Uint8Array>;
  /** Whether the server's TLS certificate is checked (false only for insecure registries). */
  verifyTls?: boolean;
  signal?: AbortSignal;
  /**
   * A connection that carries nothing (no headers, no body bytes) for this long is
   * destroyed with ETIMEDOUT: a registry that stalls must not hang a pull forever (a
   * blob download then resumes with a Range request). Default 60 s.
   */
  idleTimeoutMs?: number;
}

/**
 * Sends one request and resolves with the response once its headers arrived; the body
 * is the caller's to read (or `discard`). No redirects are followed here and nothing is
 * retried: the registry client decides both. Connections are not reused between
 * requests (`Connection: close`, as dockerd sends), so a broken connection never spills
 * into the next request.
 */
export function sendHttp(req: HttpRequest): Promise<http.IncomingMessage> {
  const url = new URL(req.url);
  const lib = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!lib) return Promise.reject(new SystemError(`unsupported URL scheme: ${req.url}`));
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = {
      method: req.method,
      headers: { Connection: 'close', ...(req.headers ?? {}) },
      signal: req.signal,
    };
    if (url.protocol === 'https:') options.rejectUnauthorized = req.verifyTls !== false;
    const request = lib.request(url, options, resolve);
    request.on('error', reject);
    request.setTimeout(req.idleTimeoutMs ?? 60_000, () => {
      request.destroy(
        Object.assign(new Error(`no data from ${url.host} for ${Math.round((req.idleTimeoutMs ?? 60_000) / 1000)} s`), {
          code: 'ETIMEDOUT',
        }),
      );
    });
    if (req.body === undefined) request.end();
    else if (Buffer.isBuffer(req.body)) request.end(req.body);
    else {
      const body = Readable.from(req.body, { objectMode: false });
      body.on('error', (err) => request.destroy(err));
      body.pipe(request);
    }
  });
}

/** Read a (small) response body whole. */
export async function readBody(res: http.IncomingMessage, limit = 16 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      res.destroy();
      throw new SystemError(`registry response too large: more than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Drop a response body we do not need (so the socket is released). */
export function discard(res: http.IncomingMessage): void {
  res.resume();
  res.on('error', () => {});
}

/** A failure of the connection itself (refused, reset, TLS spoken to plain HTTP), as opposed to an HTTP answer. */
export function isConnectionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (typeof code !== 'string') return false;
  return (
    /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPROTO|ERR_SSL_|ERR_STREAM_PREMATURE_CLOSE|UND_ERR_SOCKET|ECONNABORTED)/.test(
      code,
    ) || /^ERR_TLS|^ERR_SSL|CERT|SELF_SIGNED|DEPTH_ZERO/.test(code)
  );
}
