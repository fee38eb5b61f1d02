import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import type * as net from 'node:net';

export { htpasswdLine, LocalRegistry } from '@berth/testkit/registry';

/** What the proxy does to the next matching blob download. */
export type BlobFault = 'drop-midway' | 'corrupt' | 'stall';

/**
 * An HTTP proxy in front of a registry that counts what clients send (uploads, blob
 * downloads, Range requests) and can break things on purpose: cut a blob download
 * half-way (`drop-midway`), flip a byte of one (`corrupt`), send half and then nothing
 * (`stall`), or answer the next manifest PUT with a 500 (`failManifestPut`). The Host
 * header passes through, so the registry's Locations name the proxy.
 */
export class RegistryProxy {
  port = 0;
  blobFault: BlobFault | undefined;
  /** How many faults were served (a test waits for its fault to have happened). */
  faultsServed = 0;
  failManifestPut = false;
  /** Manifests answered by the proxy itself, by request path (an old registry's schema 1, say). */
  readonly cannedManifests = new Map<string, { contentType: string; body: Buffer }>();
  readonly seen: Array<{ method: string; url: string; range?: string }> = [];
  private server: http.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly target: number) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Blob bodies the clients sent (monolithic PUTs with a body and PATCHes). */
  uploads(): number {
    return this.seen.filter(
      (r) => r.method === 'PATCH' || (r.method === 'PUT' && r.url.includes('/blobs/uploads/') && r.url.includes('bodied=1')),
    ).length;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.forward(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const bodied = req.method === 'PUT' && Number(req.headers['content-length'] ?? 0) > 0 ? '&bodied=1' : '';
    this.seen.push({ method: req.method!, url: `${req.url}${bodied}`, range: req.headers.range });
    if (req.method === 'PUT' && req.url!.includes('/manifests/') && this.failManifestPut) {
      this.failManifestPut = false;
      req.resume();
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end('{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}');
      return;
    }
    const canned = req.method === 'GET' || req.method === 'HEAD' ? this.cannedManifests.get(req.url!) : undefined;
    if (canned) {
      req.resume();
      res.writeHead(200, { 'Content-Type': canned.contentType, 'Content-Length': canned.body.length });
      res.end(req.method === 'HEAD' ? undefined : canned.body);
      return;
    }
    const isBlobGet = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url!);
    const fault = isBlobGet && !req.headers.range && !this.isConfig(req.url!) ? this.blobFault : undefined;
    if (fault) {
      this.blobFault = undefined;
      this.faultsServed++;
    }
    const upstream = http.request(
      { host: '127.0.0.1', port: this.target, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (!fault) {
          res.writeHead(up.statusCode!, up.headers);
          up.pipe(res);
          return;
        }
        const total = Number(up.headers['content-length']);
        res.writeHead(up.statusCode!, up.headers);
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          if (fault === 'corrupt') {
            const copy = Buffer.from(chunk);
            if (sent === 0) copy[copy.length - 1]! ^= 0xff;
            sent += copy.length;
            res.write(copy);
            return;
          }
          const room = Math.floor(total / 2) - sent;
          if (room <= 0) return;
          const part = chunk.subarray(0, room);
          sent += part.length;
          res.write(part);
          if (sent >= Math.floor(total / 2)) {
            up.destroy();
            // drop: the connection goes; stall: it stays open, sending nothing more.
            if (fault === 'drop-midway') setTimeout(() => res.socket?.destroy(), 50);
          }
        });
        up.on('end', () => res.end());
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }

  /** Config blobs are small and fetched first; faults are aimed at layers. */
  private configs = new Set<string>();
  private isConfig(url: string): boolean {
    return this.configs.has(url);
  }

  /** Mark a digest as a config blob (faults skip it). */
  markConfig(repository: string, digest: string): void {
    this.configs.add(`/v2/${repository}/blobs/${digest}`);
  }
}

/** The docker-py interpreter check: tests that use it say so when it is missing rather than pass. */
export function hasDockerPy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import docker'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
