import type { Readable } from 'node:stream';
import { ApiError, connectionError } from './errors.js';
import { Http1Pool, type Response, type Upgraded } from './http1.js';
import { encodeQuery, type QueryValue } from './query.js';

/** The client's own version, sent in `User-Agent`. */
export const CLIENT_VERSION = '0.1.0';

/** The API version the client speaks: dockerd 20.10's, which berthd serves. */
export const API_VERSION = '1.41';

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** A JSON body (sent with `Content-Type: application/json` and a length). */
  json?: unknown;
  /** A streamed body (a tar), sent chunked. */
  body?: Readable;
  /** Content type of a streamed body; `application/x-tar` when not given. */
  contentType?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * A hijacked connection (attach, exec start): after `101 UPGRADED` the socket is a raw
 * byte pipe both ways. `head` holds output bytes that arrived with the 101. A daemon
 * that answers `200` instead (no upgrade) streams output as the body and takes no input.
 */
export interface HijackedStream {
  readonly output: Readable;
  /** Where stdin goes; null when the daemon did not upgrade the connection. */
  readonly input: NodeJS.WritableStream | null;
  readonly head: Buffer;
  readonly contentType: string | undefined;
  /** Tears the connection down (detach). */
  destroy(): void;
}

/**
 * HTTP/1.1 over the daemon's UNIX socket (http1.ts, not Node's `http`: see there why):
 * versioned paths, keep-alive for plain calls, a fresh connection per hijack, and errors
 * turned into ApiError / ConnectionError. One per client; `close()` drops the idle
 * keep-alive connections.
 */
export class Transport {
  private readonly pool: Http1Pool;
  private readonly userAgent: string;

  constructor(
    readonly socketPath: string,
    readonly apiVersion: string = API_VERSION,
    userAgent?: string,
  ) {
    this.userAgent = userAgent ?? `berth-client/${CLIENT_VERSION}`;
    this.pool = new Http1Pool(socketPath);
  }

  /** `/v1.41/containers/json?all=1` from a route and its parameters. */
  url(path: string, query?: Record<string, QueryValue>): string {
    return `/v${this.apiVersion}${path}${encodeQuery(query)}`;
  }

  /**
   * Sends a request; resolves with the response once its headers arrived and its status
   * is below 400. An error status is read and rejected as ApiError with the daemon's message.
   */
  request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string | number> = { Host: 'berth', 'User-Agent': this.userAgent, ...options.headers };
    let body: Buffer | Readable | undefined;
    if (options.json !== undefined) {
      body = Buffer.from(JSON.stringify(options.json));
      headers['Content-Type'] = 'application/json';
    } else if (options.body) {
      body = options.body;
      headers['Content-Type'] = options.contentType ?? 'application/x-tar';
    } else if (method === 'POST' || method === 'PUT') {
      headers['Content-Length'] = 0;
    }
    const what = `${method} ${path}`;
    let bodyError: Error | undefined;
    // A failing source (an unreadable file) is its own error, not the daemon's.
    options.body?.once('error', (err) => {
      bodyError = err;
    });
    return this.pool.request({ method, path: this.url(path, options.query), headers, body, signal: options.signal }).then(
      async (res) => {
        const response = res as Response;
        if (response.statusCode < 400) return response;
        throw await readApiError(response, what);
      },
      (err: NodeJS.ErrnoException) => {
        throw bodyError ?? (err.name === 'AbortError' ? err : connectionError(err, this.socketPath));
      },
    );
  }

  /** A request whose answer is JSON (or empty: undefined). */
  async json<T>(method: string, path: string, options?: RequestOptions): Promise<T> {
    const res = await this.request(method, path, options);
    const body = await readBody(res);
    return (body.length ? JSON.parse(body.toString('utf8')) : undefined) as T;
  }

  /** A request whose answer carries nothing we need (204, 201 with an empty body). */
  async call(method: string, path: string, options?: RequestOptions): Promise<void> {
    const res = await this.request(method, path, options);
    await readBody(res);
  }

  /**
   * Sends `Connection: Upgrade` / `Upgrade: tcp` on a connection of its own and resolves
   * once the daemon answered: with the raw socket after `101`, or with the body stream if
   * it answered `200` without upgrading.
   */
  hijack(method: string, path: string, options: { query?: Record<string, QueryValue>; json?: unknown } = {}): Promise<HijackedStream> {
    const body = options.json === undefined ? undefined : Buffer.from(JSON.stringify(options.json));
    const headers: Record<string, string | number> = {
      Host: 'berth',
      'User-Agent': this.userAgent,
      Connection: 'Upgrade',
      Upgrade: 'tcp',
      'Content-Type': body ? 'application/json' : 'text/plain',
    };
    if (!body) headers['Content-Length'] = 0;
    const what = `${method} ${path}`;
    return this.pool.request({ method, path: this.url(path, options.query), headers, body, upgrade: true }).then(
      async (res): Promise<HijackedStream> => {
        if (res.statusCode === 101) {
          const { socket, head, headers: h } = res as Upgraded;
          return { output: socket, input: socket, head, contentType: h['content-type'], destroy: () => socket.destroy() };
        }
        const response = res as Response;
        if (response.statusCode >= 400) throw await readApiError(response, what);
        return {
          output: response,
          input: null,
          head: Buffer.alloc(0),
          contentType: response.headers['content-type'],
          destroy: () => response.destroy(),
        };
      },
      (err: NodeJS.ErrnoException) => {
        throw connectionError(err, this.socketPath);
      },
    );
  }

  /** Drops idle keep-alive connections; requests in flight are not affected. */
  close(): void {
    this.pool.close();
  }
}

/** The whole body of a response. */
export function readBody(res: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

/** An error response as ApiError: the `{"message"}` of a JSON body, else its text, else the status line. */
async function readApiError(res: Response, what: string): Promise<ApiError> {
  const status = res.statusCode ?? 500;
  let text = '';
  try {
    text = (await readBody(res)).toString('utf8').trim();
  } catch {
    // A body cut short still leaves the status to report.
  }
  let message = text;
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // Not JSON after all: report the text.
    }
  }
  if (!message) message = `${status} ${res.statusMessage ?? ''}`.trim();
  return new ApiError(status, message, what);
}
