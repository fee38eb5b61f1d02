import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';

/*
 * HTTP/1.1 over a UNIX socket, just what the client needs: one request at a time per
 * connection, idle connections kept for the next request, responses framed by
 * Content-Length, chunked encoding or the end of the connection, and `101` upgrades
 * handing over the raw socket. Node's `http` does all this and more, but loading it and
 * its first request cost `berth run` ~5 ms of its ~15 ms over Node's own start.
 */

/** Response header names in lower case; a repeated header's values joined with ", ". */
export type ResponseHeaders = Record<string, string>;

/** A response whose head has arrived; the body is this stream, already de-chunked. */
export class Response extends Readable {
  /** The whole body arrived (as on Node's IncomingMessage): false when the connection broke first. */
  complete = false;

  constructor(
    readonly statusCode: number,
    readonly statusMessage: string,
    readonly headers: ResponseHeaders,
    private readonly onPull: () => void,
    private readonly onDestroy: (err: Error | null) => void,
  ) {
    super();
  }

  override _read(): void {
    this.onPull();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.onDestroy(err);
    callback(err);
  }
}

/** A `101 Switching Protocols` answer: the connection is now a raw byte pipe. */
export interface Upgraded {
  readonly statusCode: 101;
  readonly headers: ResponseHeaders;
  readonly socket: Socket;
  /** Bytes that came after the head, in the same read. */
  readonly head: Buffer;
}

export interface Http1Request {
  method: string;
  path: string;
  headers: Record<string, string | number>;
  /** A complete body (sent with Content-Length), or a stream (sent chunked), or none. */
  body?: Buffer | Readable;
  signal?: AbortSignal;
  /** The request asks to upgrade: its connection is never reused, and a 101 resolves as Upgraded. */
  upgrade?: boolean;
}

const maxHead = 64 * 1024;
const crlf = Buffer.from('\r\n');

/**
 * The connections to one daemon socket. Each request takes an idle connection or opens
 * one; a connection goes back to the pool once its response was read to the end, unless
 * either side asked to close it. Idle connections do not keep the process alive.
 */
export class Http1Pool {
  private readonly idle: Socket[] = [];

  constructor(readonly socketPath: string) {}

  /**
   * Sends a request; resolves when the response head arrived (`1xx` other than 101 are
   * skipped). Rejects with the socket's error (ENOENT, ECONNREFUSED, ...), a protocol
   * error, an AbortError, or the body stream's own error.
   */
  request(req: Http1Request): Promise<Response | Upgraded> {
    return new Promise((resolve, reject) => {
      if (req.signal?.aborted) return reject(abortError());
      for (const [name, value] of Object.entries(req.headers)) {
        if (/[\r\n]/.test(`${name}${value}`)) return reject(new TypeError(`invalid header ${JSON.stringify(name)}`));
      }
      if (/[\s]/.test(req.path)) return reject(new TypeError(`invalid request path ${JSON.stringify(req.path)}`));
      const reused = req.upgrade ? undefined : this.takeIdle();
      // A kept connection the daemon closed just now fails before any answer: once, take a new one.
      const retry =
        reused && !(req.body instanceof Readable)
          ? () => new Exchange(this, connect(this.socketPath), req, resolve, reject).start()
          : undefined;
      new Exchange(this, reused ?? connect(this.socketPath), req, resolve, reject, retry).start();
    });
  }

  /** Closes the idle connections; requests in flight are not affected. */
  close(): void {
    for (const socket of this.idle.splice(0)) socket.destroy();
  }

  /** A connection that is done with its exchange and may carry the next one. */
  release(socket: Socket): void {
    if (socket.destroyed || !socket.readable || !socket.writable) return void socket.destroy();
    const drop = (): void => {
      const i = this.idle.indexOf(socket);
      if (i >= 0) this.idle.splice(i, 1);
      socket.destroy();
    };
    // While idle, anything from the daemon (it closed, or sent bytes unasked) ends the connection.
    socket.once('data', drop);
    socket.once('end', drop);
    socket.once('error', drop);
    socket.once('close', drop);
    (socket as Socket & { idleDrop?: () => void }).idleDrop = drop;
    // Paused for a body nobody had read yet (which then ended): read on, or the daemon's
    // close would go unseen and the next exchange on it would never hear its answer.
    socket.resume();
    socket.unref();
    this.idle.push(socket);
  }

  private takeIdle(): Socket | undefined {
    const socket = this.idle.pop();
    if (!socket) return undefined;
    const drop = (socket as Socket & { idleDrop?: () => void }).idleDrop;
    if (drop) for (const event of ['data', 'end', 'error', 'close']) socket.removeListener(event, drop);
    socket.ref();
    return socket;
  }
}

type BodyMode = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'eof' };

/** One request and its response on one connection. */
class Exchange {
  private buf: Buffer = Buffer.alloc(0);
  private state: 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailer' | 'done' = 'head';
  private mode: BodyMode = { kind: 'none' };
  private chunkLeft = 0;
  private response: Response | undefined;
  private settled = false;
  private sent = false;
  private reusable = true;
  private received = false;
  /** Parsing waits for the caller to take the response (see onHead). */
  private parked = false;
  private readonly onData = (chunk: Buffer): void => {
    this.received = true;
    this.receive(chunk);
  };
  private readonly onEnd = (): void => this.remoteEnded();
  private readonly onError = (err: Error): void => this.fail(err);
  private readonly onClose = (): void => this.fail(prematureClose());
  private readonly onAbort = (): void => this.fail(abortError());

  constructor(
    private readonly pool: Http1Pool,
    private readonly socket: Socket,
    private readonly req: Http1Request,
    private readonly resolve: (r: Response | Upgraded) => void,
    private readonly reject: (err: Error) => void,
    /** For a reused connection: start over on a new one if this one fails before any byte came back. */
    private readonly retry?: () => void,
  ) {}

  start(): void {
    const { socket, req } = this;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    req.signal?.addEventListener('abort', this.onAbort, { once: true });
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(req.headers)) head += `${name}: ${value}\r\n`;
    const body = req.body;
    if (body instanceof Readable) {
      socket.write(`${head}Transfer-Encoding: chunked\r\n\r\n`);
      this.stream(body);
    } else {
      if (body) head += `Content-Length: ${body.length}\r\n`;
      socket.write(body?.length ? Buffer.concat([Buffer.from(`${head}\r\n`), body]) : `${head}\r\n`);
      this.sent = true;
    }
  }

  /** Sends a stream chunked, with backpressure; stops if the daemon answered first. */
  private stream(body: Readable): void {
    const { socket } = this;
    const onChunk = (chunk: Buffer | string): void => {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (!data.length || this.state === 'done') return;
      socket.write(`${data.length.toString(16)}\r\n`);
      socket.write(data);
      if (!socket.write(crlf)) {
        body.pause();
        socket.once('drain', () => body.resume());
      }
    };
    const onEnd = (): void => {
      this.sent = true;
      if (!socket.destroyed) socket.write('0\r\n\r\n');
      this.maybeRelease();
    };
    body.on('data', onChunk);
    body.once('end', onEnd);
    body.once('error', (err) => this.fail(err));
    // As pipe() does: a paused source is resumed, one that already ended ends the body.
    if (body.readableEnded) process.nextTick(onEnd);
    else body.resume();
    this.stopUpload = () => {
      body.off('data', onChunk);
      body.off('end', onEnd);
      body.pause();
    };
  }

  private stopUpload: () => void = () => {};

  private receive(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (this.parked) return;
    try {
      this.parse();
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private parse(): void {
    while (this.buf.length && this.state !== 'done' && !this.parked) {
      if (this.state === 'head') {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.buf.length > maxHead) throw protocolError('response head too large');
          return;
        }
        const text = this.buf.subarray(0, end).toString('latin1');
        this.buf = this.buf.subarray(end + 4);
        if (this.onHead(text) === 'upgraded') return;
        continue;
      }
      if (this.state === 'body') {
        if (this.mode.kind === 'length') {
          const take = Math.min(this.mode.left, this.buf.length);
          this.deliver(this.buf.subarray(0, take));
          this.buf = this.buf.subarray(take);
          this.mode.left -= take;
          if (this.mode.left === 0) this.finish();
        } else {
          this.deliver(this.buf);
          this.buf = Buffer.alloc(0);
        }
        continue;
      }
      if (this.state === 'chunk-size' || this.state === 'trailer' || this.state === 'chunk-crlf') {
        const nl = this.buf.indexOf(crlf);
        if (nl < 0) {
          if (this.buf.length > maxHead) throw protocolError('chunk line too long');
          return;
        }
        const line = this.buf.subarray(0, nl).toString('latin1');
        this.buf = this.buf.subarray(nl + 2);
        if (this.state === 'chunk-crlf') {
          if (line !== '') throw protocolError('missing CRLF after a chunk');
          this.state = 'chunk-size';
        } else if (this.state === 'trailer') {
          if (line === '') this.finish();
        } else {
          const size = line.split(';')[0]!.trim();
          if (!/^[0-9a-fA-F]{1,8}$/.test(size)) throw protocolError(`bad chunk size ${JSON.stringify(line)}`);
          this.chunkLeft = Number.parseInt(size, 16);
          this.state = this.chunkLeft === 0 ? 'trailer' : 'chunk-data';
        }
        continue;
      }
      // chunk-data
      const take = Math.min(this.chunkLeft, this.buf.length);
      this.deliver(this.buf.subarray(0, take));
      this.buf = this.buf.subarray(take);
      this.chunkLeft -= take;
      if (this.chunkLeft === 0) this.state = 'chunk-crlf';
    }
    // Bytes after a complete response: the daemon sent what nobody asked for.
    if (this.state === 'done' && this.buf.length) this.reusable = false;
  }

  private onHead(text: string): 'upgraded' | 'response' | 'interim' {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]!);
    if (!m) throw protocolError(`bad status line ${JSON.stringify(lines[0])}`);
    const status = Number(m[2]);
    const headers: ResponseHeaders = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw protocolError(`bad header line ${JSON.stringify(line)}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    if (status === 101 && this.req.upgrade) {
      this.detach();
      // Like Node's http: no 'data' is emitted (and lost) until the new owner listens.
      (this.socket as { readableFlowing: boolean | null }).readableFlowing = null;
      this.settled = true;
      this.resolve({ statusCode: 101, headers, socket: this.socket, head: this.buf });
      this.buf = Buffer.alloc(0);
      this.state = 'done';
      return 'upgraded';
    }
    if (status >= 100 && status < 200) return 'interim';
    if (m[1] === '0' || /\bclose\b/i.test(headers.connection ?? '') || this.req.upgrade) this.reusable = false;
    const te = headers['transfer-encoding'];
    if (this.req.method === 'HEAD' || status === 204 || status === 304) this.mode = { kind: 'none' };
    else if (te !== undefined) {
      if (!/(^|,)\s*chunked\s*$/i.test(te)) throw protocolError(`unsupported transfer-encoding ${JSON.stringify(te)}`);
      this.mode = { kind: 'chunked' };
    } else if (headers['content-length'] !== undefined) {
      if (!/^\d+$/.test(headers['content-length'])) throw protocolError(`bad content-length ${JSON.stringify(headers['content-length'])}`);
      this.mode = { kind: 'length', left: Number(headers['content-length']) };
    } else {
      this.mode = { kind: 'eof' };
      this.reusable = false;
    }
    const socket = this.socket;
    this.response = new Response(
      status,
      m[3] ?? '',
      headers,
      () => socket.resume(),
      (err) => {
        if (this.state !== 'done') {
          this.reusable = false;
          this.fail(err ?? prematureClose());
        }
      },
    );
    this.settled = true;
    this.resolve(this.response);
    // Bytes after the head (the body, or an error in it) wait a turn of the loop, so the
    // caller attaches its listeners first: an 'error' emitted before would go unheard.
    if (this.buf.length) {
      this.parked = true;
      setImmediate(() => {
        this.parked = false;
        try {
          this.parse();
        } catch (err) {
          this.fail(err as Error);
        }
      });
    }
    // The daemon may answer before the upload ends (an error): stop sending, and do not
    // reuse a connection that carried half a body.
    if (!this.sent) {
      this.stopUpload();
      this.sent = true;
      this.reusable = false;
    }
    if (this.mode.kind === 'none' || (this.mode.kind === 'length' && this.mode.left === 0)) this.finish();
    else this.state = this.mode.kind === 'chunked' ? 'chunk-size' : 'body';
    return 'response';
  }

  private deliver(data: Buffer): void {
    if (data.length && this.response && !this.response.push(data)) this.socket.pause();
  }

  /** The response's body is complete. */
  private finish(): void {
    this.state = 'done';
    if (this.response) this.response.complete = true;
    this.response?.push(null);
    this.maybeRelease();
  }

  /** Once the request is sent and the response read: back to the pool, or closed. */
  private maybeRelease(): void {
    if (this.state !== 'done' || !this.sent || this.socket.destroyed) return;
    this.detach();
    if (this.reusable && !this.buf.length) this.pool.release(this.socket);
    else this.socket.destroy();
  }

  private remoteEnded(): void {
    if (this.state === 'body' && this.mode.kind === 'eof') {
      this.finish();
      this.socket.destroy();
      return;
    }
    this.fail(prematureClose());
  }

  private fail(err: Error): void {
    if (this.state === 'done' && this.settled) return;
    this.state = 'done';
    this.detach();
    this.stopUpload();
    this.socket.destroy();
    if (!this.settled) {
      this.settled = true;
      if (this.retry && !this.received && (err as NodeJS.ErrnoException).code !== 'ABORT_ERR') this.retry();
      else this.reject(err);
    } else if (this.response && !this.response.destroyed) {
      this.response.destroy(err);
    }
  }

  private detach(): void {
    this.socket.removeListener('data', this.onData);
    this.socket.removeListener('end', this.onEnd);
    this.socket.removeListener('error', this.onError);
    this.socket.removeListener('close', this.onClose);
    this.req.signal?.removeEventListener('abort', this.onAbort);
  }
}

function abortError(): Error {
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

function prematureClose(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

function protocolError(message: string): Error {
  return Object.assign(new Error(`bad HTTP response from the daemon: ${message}`), { code: 'EPROTO' });
}
