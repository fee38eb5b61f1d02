import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { type ApiServer, type ApiServerOptions, createApiServer } from '../../src/index.js';
import { FakeEngine } from './fake-engine.js';

export interface Harness {
  dir: string;
  socket: string;
  engine: FakeEngine;
  server: ApiServer;
  close(): Promise<void>;
}

/** An API server over a fake engine on a fresh UNIX socket under /tmp/berth-unit-api-* (the prefix the leftover check knows). */
export async function startServer(engine = new FakeEngine(), options: Partial<ApiServerOptions> = {}): Promise<Harness> {
  // The server first: a construction error (a route registered twice) leaves no directory.
  const server = createApiServer(engine, { serverVersion: '0.1.0-test', ...options });
  const dir = mkdtempSync('/tmp/berth-unit-api-');
  const socket = join(dir, 's.sock');
  try {
    await server.listen(socket);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    socket,
    engine,
    server,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the route answered, field by field
  json(): any;
}

export function request(
  socketPath: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer; agent?: http.Agent } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path, headers: options.headers, agent: options.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body,
          text: body.toString(),
          json: () => JSON.parse(body.toString()),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** Opens a raw connection, sends `data`, and collects everything until the server closes. */
export function rawConnect(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ path: socketPath, allowHalfOpen: true }, () => resolve(s));
    s.on('error', reject);
  });
}

export function collectUntilClose(s: net.Socket, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString())}`));
    }, timeoutMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      clearTimeout(timer);
      s.end();
      resolve(Buffer.concat(chunks));
    });
  });
}

/** Splits an 8-byte-header multiplexed stream into frames; throws on a torn frame. */
export function parseFrames(buf: Buffer): Array<{ stream: number; data: string }> {
  const out: Array<{ stream: number; data: string }> = [];
  let i = 0;
  while (i < buf.length) {
    if (i + 8 > buf.length) throw new Error(`torn frame header at ${i}`);
    const len = buf.readUInt32BE(i + 4);
    if (buf[i + 1] !== 0 || buf[i + 2] !== 0 || buf[i + 3] !== 0) throw new Error(`bad frame header at ${i}`);
    out.push({ stream: buf[i]!, data: buf.subarray(i + 8, i + 8 + len).toString() });
    i += 8 + len;
  }
  return out;
}

export function until(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (predicate()) return resolve();
      if (Date.now() - start > timeoutMs) return reject(new Error('condition not met in time'));
      setTimeout(tick, 5);
    };
    tick();
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Creates a container in the fake engine through the API and returns its id. */
export async function createContainer(socketPath: string, body: object, name?: string): Promise<string> {
  const r = await request(socketPath, 'POST', `/v1.41/containers/create${name ? `?name=${name}` : ''}`, {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
  return r.json().Id;
}
