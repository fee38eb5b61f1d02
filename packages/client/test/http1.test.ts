import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Http1Pool, type Response, type Upgraded } from '../src/http1.js';
import { readBody } from '../src/transport.js';

/*
 * The client's own HTTP/1.1 against a raw socket server, so every byte on the wire is
 * the test's choice: framings, splits at every position, keep-alive, upgrades, failures.
 */

interface RawRequest {
  head: string;
  body: Buffer;
  /** The request's bytes as sent, head and (chunked) body. */
  wire: Buffer;
  /** Which connection (1, 2, ...) carried it. */
  connection: number;
}

type Handler = (req: RawRequest, socket: net.Socket) => void;

class RawServer {
  connections = 0;
  readonly requests: RawRequest[] = [];
  handler: Handler = () => {};
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly dir: string,
    readonly socketPath: string,
  ) {}

  static async start(): Promise<RawServer> {
    const dir = mkdtempSync('/tmp/berth-unit-http1-');
    const socketPath = path.join(dir, 's.sock');
    const server = net.createServer();
    const raw = new RawServer(server, dir, socketPath);
    server.on('connection', (socket) => raw.accept(socket));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    return raw;
  }

  private accept(socket: net.Socket): void {
    const connection = ++this.connections;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        let rest = buf.subarray(end + 4);
        let body: Buffer;
        let used: number;
        const length = /\r\ncontent-length: *(\d+)/i.exec(head);
        if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const parts: Buffer[] = [];
          let at = 0;
          for (;;) {
            const nl = rest.indexOf('\r\n', at);
            if (nl < 0) return;
            const size = Number.parseInt(rest.subarray(at, nl).toString(), 16);
            if (rest.length < nl + 2 + size + 2) return;
            parts.push(rest.subarray(nl + 2, nl + 2 + size));
            at = nl + 2 + size + 2;
            if (size === 0) break;
          }
          body = Buffer.concat(parts);
          used = at;
        } else {
          const n = length ? Number(length[1]) : 0;
          if (rest.length < n) return;
          body = rest.subarray(0, n);
          used = n;
        }
        const req = { head, body, wire: buf.subarray(0, end + 4 + used), connection };
        rest = rest.subarray(used);
        buf = rest;
        this.requests.push(req);
        this.handler(req, socket);
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Writes `data` one byte per write, a tick apart, so the client sees every split point. */
async function trickle(socket: net.Socket, data: string | Buffer): Promise<void> {
  const bytes = Buffer.from(data);
  for (let i = 0; i < bytes.length; i++) {
    socket.write(bytes.subarray(i, i + 1));
    await new Promise((r) => setImmediate(r));
  }
}

const t = suite<{ server: RawServer; pool: Http1Pool }>('http1');
t.before.each(async (ctx) => {
  ctx.server = await RawServer.start();
  ctx.pool = new Http1Pool(ctx.server.socketPath);
});
t.after.each(async (ctx) => {
  ctx.pool.close();
  await ctx.server.close();
});

const get = (pool: Http1Pool, p = '/x', extra: Partial<Parameters<Http1Pool['request']>[0]> = {}) =>
  pool.request({ method: 'GET', path: p, headers: { Host: 'berth' }, ...extra }) as Promise<Response>;

t('Content-Length body, every byte its own packet; status, message and lower-case headers', async ({ server, pool }) => {
  server.handler = (_req, s) =>
    void trickle(
      s,
      'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Two: a\r\nx-two: b\r\nContent-Length: 11\r\n\r\n{"Id":"ab"}',
    );
  const res = await get(pool);
  assert.is(res.statusCode, 201);
  assert.is(res.statusMessage, 'Created');
  assert.is(res.headers['content-type'], 'application/json');
  assert.is(res.headers['x-two'], 'a, b');
  assert.is((await readBody(res)).toString(), '{"Id":"ab"}');
  assert.ok(res.complete);
  assert.is(server.requests[0]!.head.split('\r\n')[0], 'GET /x HTTP/1.1');
});

t('chunked body with extensions and trailers, split at every byte, de-chunked', async ({ server, pool }) => {
  const body = '5;name=v\r\nhello\r\n1\r\n \r\nC\r\nworld, again\r\n0\r\nX-Trailer: 1\r\n\r\n';
  server.handler = (_req, s) => void trickle(s, `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
  const res = await get(pool);
  assert.is((await readBody(res)).toString(), 'hello world, again');
  assert.ok(res.complete);
});

t('keep-alive: sequential requests share one connection; Connection: close and HTTP/1.0 do not', async ({ server, pool }) => {
  let n = 0;
  server.handler = (_req, s) => {
    n++;
    if (n === 3) s.end('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nc');
    else if (n === 5) s.end('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nd');
    else s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n${n}\r\n0\r\n\r\n`);
  };
  const bodies: string[] = [];
  for (let i = 0; i < 6; i++) bodies.push((await readBody(await get(pool))).toString());
  assert.equal(bodies, ['1', '2', 'c', '4', 'd', '6']);
  assert.equal(
    server.requests.map((r) => r.connection),
    [1, 1, 1, 2, 2, 3],
  );
});

t('no length: the body runs to the end of the connection, which is not reused', async ({ server, pool }) => {
  server.handler = (req, s) => {
    if (req.connection === 1) {
      s.write('HTTP/1.1 200 OK\r\n\r\nall of ');
      setTimeout(() => s.end('it'), 10);
    } else s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  };
  assert.is((await readBody(await get(pool))).toString(), 'all of it');
  assert.is((await readBody(await get(pool))).toString(), 'ok');
  assert.is(server.connections, 2);
});

t('204 and HEAD have no body; 100 Continue is skipped', async ({ server, pool }) => {
  server.handler = (req, s) => {
    if (req.head.startsWith('HEAD')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n');
    else if (req.head.startsWith('DELETE')) s.write('HTTP/1.1 204 No Content\r\n\r\n');
    else s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi');
  };
  const del = (await pool.request({ method: 'DELETE', path: '/c', headers: {} })) as Response;
  assert.is(del.statusCode, 204);
  assert.is((await readBody(del)).length, 0);
  const head = (await pool.request({ method: 'HEAD', path: '/c', headers: {} })) as Response;
  assert.is(head.headers['content-length'], '99');
  assert.is((await readBody(head)).length, 0);
  const res = await get(pool);
  assert.is(res.statusCode, 200);
  assert.is((await readBody(res)).toString(), 'hi');
  assert.is(server.connections, 1);
});

t('a JSON body goes with its length; a stream goes chunked, paused or not, big or empty', async ({ server, pool }) => {
  server.handler = (req, s) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${String(req.body.length).length}\r\n\r\n${req.body.length}`);
  const json = Buffer.from('{"a":1}');
  await readBody(
    (await pool.request({ method: 'POST', path: '/j', headers: { 'Content-Type': 'application/json' }, body: json })) as Response,
  );
  assert.match(server.requests[0]!.head, /\r\nContent-Length: 7$/);
  assert.equal(server.requests[0]!.body, json);
  const big = Buffer.alloc(3 << 20, 7);
  const paused = Readable.from([big.subarray(0, 1 << 20), big.subarray(1 << 20)]);
  paused.pause();
  const res = (await pool.request({ method: 'POST', path: '/s', headers: {}, body: paused })) as Response;
  assert.is((await readBody(res)).toString(), String(big.length));
  assert.match(server.requests[1]!.head, /\r\nTransfer-Encoding: chunked$/);
  assert.ok(server.requests[1]!.body.equals(big));
  const empty = Readable.from([]);
  await readBody((await pool.request({ method: 'POST', path: '/e', headers: {}, body: empty })) as Response);
  assert.is(server.requests[2]!.wire.subarray(-5).toString(), '0\r\n\r\n');
  assert.is(server.requests[2]!.body.length, 0);
});

t('101: the raw socket and the bytes after the head; bytes that come later wait for a reader', async ({ server, pool }) => {
  // The daemon's side, to send " late" once the client has the upgrade in hand (a timer
  // after the head could land in the same read as the head on a busy machine).
  let daemonSide: { write(data: string): unknown } | undefined;
  server.handler = (_req, s) => {
    daemonSide = s;
    s.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly');
    s.on('data', (d) => s.write(`[${d}]`));
  };
  const up = (await pool.request({
    method: 'POST',
    path: '/attach',
    headers: { Connection: 'Upgrade', Upgrade: 'tcp' },
    upgrade: true,
  })) as Upgraded;
  assert.is(up.statusCode, 101);
  assert.is(up.headers['content-type'], 'application/vnd.docker.raw-stream');
  assert.is(up.head.toString(), 'early');
  daemonSide!.write(' late');
  await new Promise((r) => setTimeout(r, 30)); // " late" arrives with nobody listening
  const got: string[] = [];
  up.socket.on('data', (d: Buffer) => got.push(d.toString()));
  up.socket.write('in');
  for (const until = Date.now() + 2000; !got.join('').includes(']') && Date.now() < until; ) await new Promise((r) => setTimeout(r, 5));
  assert.is(got.join(''), ' late[in]');
  up.socket.destroy();
});

t('the daemon closes mid-body: the response errors, incomplete; before any answer: the request rejects', async ({ server, pool }) => {
  server.handler = (req, s) => {
    if (req.connection === 1) s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    else s.destroy();
  };
  const res = await get(pool);
  const err = await readBody(res).then(
    () => null,
    (e: Error) => e,
  );
  assert.match(String(err), /socket hang up/);
  assert.not.ok(res.complete);
  const err2 = await get(pool).then(
    () => null,
    (e: NodeJS.ErrnoException) => e,
  );
  assert.is(err2?.code, 'ECONNRESET');
});

t('a kept connection the daemon dropped is replaced once, transparently', async ({ server, pool }) => {
  server.handler = (req, s) => {
    // The first connection answers once, then drops the next request without a word.
    if (req.connection === 1 && server.requests.length === 2) return void s.destroy();
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  };
  assert.is((await readBody(await get(pool))).toString(), 'ok');
  assert.is((await readBody(await get(pool))).toString(), 'ok');
  assert.is(server.connections, 2);
});

t('protocol errors, a missing socket, abort, header injection', async ({ server, pool }) => {
  server.handler = (_req, s) => s.write('HTTP/1.1 abc\r\n\r\n');
  const bad = await get(pool).then(
    () => null,
    (e: NodeJS.ErrnoException) => e,
  );
  assert.is(bad?.code, 'EPROTO');
  server.handler = (_req, s) => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
  const res = await get(pool);
  const chunkErr = await readBody(res).then(
    () => null,
    (e: NodeJS.ErrnoException) => e,
  );
  assert.is(chunkErr?.code, 'EPROTO');

  const missing = new Http1Pool(path.join(server.dir, 'nope.sock'));
  const enoent = await get(missing).then(
    () => null,
    (e: NodeJS.ErrnoException) => e,
  );
  assert.is(enoent?.code, 'ENOENT');

  server.handler = () => {}; // never answers
  const controller = new AbortController();
  const pending = get(pool, '/wait', { signal: controller.signal });
  setTimeout(() => controller.abort(), 10);
  const aborted = await pending.then(
    () => null,
    (e: Error) => e,
  );
  assert.is(aborted?.name, 'AbortError');

  await get(pool, '/x', { headers: { 'X-Evil': 'a\r\nInjected: 1' } }).then(
    () => assert.unreachable('sent a header with CRLF'),
    (e: Error) => assert.instance(e, TypeError),
  );
});

t('an unread body pauses the connection, and resumes when read', async ({ server, pool }) => {
  const size = 4 << 20;
  server.handler = (_req, s) => {
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
    s.write(Buffer.alloc(size, 1));
  };
  const res = await get(pool);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(res.readableLength < size, 'not everything was buffered while nobody read');
  assert.is((await readBody(res)).length, size);
});

t('a connection paused for an unread body that then ended is reused, and answers', async ({ server, pool }) => {
  // Over the body stream's high-water mark (64 KiB), ending in the read that crosses it.
  const big = 'x'.repeat(70 * 1024);
  server.handler = (req, s) =>
    s.write(
      `HTTP/1.1 200 OK\r\nContent-Length: ${req.head.startsWith('GET /big') ? big.length : 2}\r\n\r\n${req.head.startsWith('GET /big') ? big : 'ok'}`,
    );
  const first = await get(pool, '/big');
  await new Promise((r) => setTimeout(r, 20)); // the whole body arrived; nobody read it
  const second = await get(pool, '/small');
  assert.is((await readBody(second)).toString(), 'ok');
  assert.is(server.connections, 1, 'the second request went on the first connection');
  assert.is((await readBody(first)).length, big.length);
});

t.run();
