import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { promises as fs, mkdtempSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';

/** A port the kernel just gave out on loopback (free when this returns). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A bcrypt htpasswd line (the reference registry accepts only bcrypt), made by libxcrypt through Python. */
export function htpasswdLine(user: string, password: string): string {
  const hash = execFileSync(
    'python3',
    ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))', password],
    { encoding: 'utf8' },
  ).trim();
  if (!hash.startsWith('$2')) throw new Error(`python3 crypt made no bcrypt hash: ${hash}`);
  return `${user}:${hash}`;
}

/**
 * Debian's reference registry (`/usr/bin/docker-registry`, distribution 2.8) on a loopback
 * port, with its storage and config in a directory of its own under /tmp/berth-e2e-*,
 * optionally with htpasswd (Basic) auth. `stop` kills it by pid and removes the directory.
 */
export class LocalRegistry {
  readonly dir = mkdtempSync('/tmp/berth-e2e-registry-');
  port = 0;
  private proc: ChildProcess | undefined;
  private logs = '';

  async start(options: { htpasswd?: string } = {}): Promise<void> {
    this.port = await freePort();
    let auth = '';
    if (options.htpasswd) {
      await fs.writeFile(path.join(this.dir, 'htpasswd'), `${options.htpasswd}\n`);
      auth = `auth:\n  htpasswd:\n    realm: berth-e2e\n    path: ${path.join(this.dir, 'htpasswd')}\n`;
    }
    const config = path.join(this.dir, 'config.yml');
    await fs.writeFile(
      config,
      `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(this.dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${this.port}\n${auth}`,
    );
    const proc = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout?.on('data', (d) => (this.logs += d));
    proc.stderr?.on('data', (d) => (this.logs += d));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const status = await new Promise<number>((resolve) => {
        http
          .get(`http://127.0.0.1:${this.port}/v2/`, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', () => resolve(0));
      });
      if (status === 200 || status === 401) return;
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`docker-registry did not start: ${this.logs}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      await gone;
    }
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

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
