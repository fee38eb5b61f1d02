import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as path from 'node:path';

/** A request as the fake daemon saw it; `path` has its `/v1.N` prefix taken off. */
export interface FakeRequest {
  seq: number;
  method: string;
  /** The route without the version prefix, e.g. `/containers/create`. */
  path: string;
  /** The path as sent, e.g. `/v1.41/containers/create`. */
  rawPath: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  /** The whole body (for hijacked requests: the bytes that came with the headers). */
  body: Buffer;
  /** Which client connection carried it (1, 2, ...). */
  connection: number;
}

export type FakeHandler = (req: FakeRequest, res: http.ServerResponse) => void | Promise<void>;
export type FakeUpgradeHandler = (req: FakeRequest, socket: net.Socket) => void | Promise<void>;

/** dockerd's hijack answer, byte for byte (docs/docker-api.md §4.1). */
export const UPGRADE_RESPONSE =
  'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n';

interface Route {
  method: string;
  pattern: RegExp;
  handler: FakeHandler;
}

interface UpgradeRoute {
  method: string;
  pattern: RegExp;
  handler: FakeUpgradeHandler;
}

/**
 * A throw-away Docker API daemon on a UNIX socket, for tests of clients: tests register
 * handlers per route, the fake records every request in order (`requests`) and a log of
 * notable moments (`log`). It answers `/_ping` itself and `404 page not found` for routes
 * nobody registered, adds `Api-Version: 1.41` to every answer, and, like dockerd, keeps
 * half-closed hijacked connections writable. `close()` removes its socket and directory.
 */
export class FakeDaemon {
  readonly requests: FakeRequest[] = [];
  /** Ordered notes: `POST /containers/create` per request, plus what handlers `note()`. */
  readonly log: string[] = [];
  connections = 0;
  private readonly routes: Route[] = [];
  private readonly upgrades: UpgradeRoute[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: http.Server,
    readonly dir: string,
    readonly socketPath: string,
  ) {}

  /** Starts a fake in a fresh `/tmp/<prefix>-*` directory (the socket is `fake.sock` in it). */
  static async start(prefix = 'bcli'): Promise<FakeDaemon> {
    const dir = fs.mkdtempSync(path.join('/tmp', `${prefix}-`));
    const socketPath = path.join(dir, 'fake.sock');
    const server = http.createServer();
    const fake = new FakeDaemon(server, dir, socketPath);
    server.on('connection', (socket: net.Socket) => {
      fake.connections++;
      (socket as net.Socket & { fakeId?: number }).fakeId = fake.connections;
      fake.sockets.add(socket);
      socket.on('close', () => fake.sockets.delete(socket));
    });
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => void fake.handle(req, res));
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void fake.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, resolve);
    });
    return fake;
  }

  /** `unix:///tmp/bcli-…/fake.sock` */
  get host(): string {
    return `unix://${this.socketPath}`;
  }

  /** Handles `method` on routes matching `pattern` (a string matches the whole route). Later registrations win. */
  on(method: string, pattern: string | RegExp, handler: FakeHandler): this {
    this.routes.unshift({ method, pattern: toPattern(pattern), handler });
    return this;
  }

  /** Handles hijack requests (`Upgrade: tcp`) on matching routes; the handler owns the socket. */
  onUpgrade(method: string, pattern: string | RegExp, handler: FakeUpgradeHandler): this {
    this.upgrades.unshift({ method, pattern: toPattern(pattern), handler });
    return this;
  }

  /** Adds a line to the ordered log. */
  note(line: string): void {
    this.log.push(line);
  }

  /** Requests of one route, in order. */
  find(method: string, route: string): FakeRequest[] {
    return this.requests.filter((r) => r.method === method && r.path === route);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private record(req: http.IncomingMessage, body: Buffer): FakeRequest {
    const url = new URL(req.url ?? '/', 'http://fake');
    const route = url.pathname.replace(/^\/v\d+\.\d+(?=\/)/, '');
    const entry: FakeRequest = {
      seq: this.requests.length + 1,
      method: req.method ?? 'GET',
      path: route,
      rawPath: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      connection: (req.socket as net.Socket & { fakeId?: number }).fakeId ?? 0,
    };
    this.requests.push(entry);
    this.log.push(`${entry.method} ${entry.path}`);
    return entry;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const entry = this.record(req, Buffer.concat(chunks));
    res.setHeader('Api-Version', '1.41');
    res.setHeader('Ostype', 'linux');
    res.setHeader('Server', 'berth-fake/0');
    const route = this.routes.find((r) => r.method === entry.method && r.pattern.test(entry.path));
    try {
      if (route) await route.handler(entry, res);
      else if (entry.path === '/_ping') {
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end(entry.method === 'HEAD' ? undefined : 'OK');
      } else sendError(res, 404, 'page not found');
    } catch (err) {
      if (!res.headersSent) sendError(res, 500, `fake daemon handler failed: ${(err as Error).message}`);
      else res.destroy();
    }
  }

  private async handleUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): Promise<void> {
    const entry = this.record(req, head);
    const route = this.upgrades.find((r) => r.method === entry.method && r.pattern.test(entry.path));
    if (!route) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n{"message":"page not found"}\n');
      return;
    }
    try {
      await route.handler(entry, socket);
    } catch {
      socket.destroy();
    }
  }
}

function toPattern(pattern: string | RegExp): RegExp {
  if (pattern instanceof RegExp) return pattern;
  return new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

/** `{"message": …}` with a status, as dockerd answers errors. */
export function sendError(res: http.ServerResponse, status: number, message: string): void {
  sendJson(res, status, { message });
}

/** A JSON answer with a length. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
