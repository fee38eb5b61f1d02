import { type ChildProcess, spawn } from 'node:child_process';
import { createSign, randomBytes, X509Certificate } from 'node:crypto';
import { promises as fs, mkdtempSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import bcrypt from 'bcryptjs';
import { selfSignedCertificate } from './self-signed-certificate.js';

export { selfSignedCertificate };

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

/**
 * A bcrypt htpasswd line (the reference registry accepts only bcrypt), made with
 * bcryptjs and written `$2y$` as `htpasswd -B` writes it (the same algorithm as `$2b$`):
 * what both the reference registry and berth's read. `cost` is bcrypt's (tests that make
 * many lines take a low one).
 */
export function htpasswdLine(user: string, password: string, cost = 10): string {
  return `${user}:${bcrypt.hashSync(password, cost).replace(/^\$2b\$/, '$2y$')}`;
}

/** How a `LocalRegistry` authenticates: none, htpasswd (Basic), or bearer tokens from a `TokenServer`. */
export type LocalRegistryAuth = { htpasswd: string } | { token: TokenServer } | undefined;

/**
 * Debian's reference registry (`/usr/bin/docker-registry`, distribution 2.8; `npm run
 * setup` installs it) on a loopback port, with its storage and config in a directory of
 * its own (`/tmp/<prefix>-*`, so the runner's leftover check sees it), optionally with
 * htpasswd or token auth. Lifecycle: `start`, use `address`, `stop` (kills it by pid and
 * removes the directory).
 */
export class LocalRegistry {
  readonly dir: string;
  port = 0;
  private proc: ChildProcess | undefined;
  private logs = '';

  constructor(prefix = '/tmp/berth-e2e-registry-') {
    this.dir = mkdtempSync(prefix);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** With `tls` in `start`: the registry's self-signed certificate (PEM). */
  certificate: string | undefined;

  /**
   * Start the registry; `options.tls` makes it speak HTTPS only, with a self-signed
   * certificate for 127.0.0.1 made with openssl (`certificate` holds it).
   */
  async start(auth?: LocalRegistryAuth, options: { tls?: boolean } = {}): Promise<void> {
    this.port = await freePort();
    let authSection = '';
    let tlsSection = '';
    if (options.tls) {
      const { cert, key } = selfSignedCertificate(this.dir, 'tls', { cn: '127.0.0.1', ip: '127.0.0.1' });
      this.certificate = readFileSync(cert, 'utf8');
      tlsSection = `  tls:\n    certificate: ${cert}\n    key: ${key}\n`;
    }
    if (auth && 'htpasswd' in auth) {
      await fs.writeFile(path.join(this.dir, 'htpasswd'), `${auth.htpasswd}\n`);
      authSection = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${path.join(this.dir, 'htpasswd')}\n`;
    } else if (auth && 'token' in auth) {
      authSection = `auth:\n  token:\n    realm: ${auth.token.realm}\n    service: ${auth.token.service}\n    issuer: ${auth.token.issuer}\n    rootcertbundle: ${auth.token.certFile}\n`;
    }
    const config = path.join(this.dir, 'config.yml');
    await fs.writeFile(
      config,
      `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(this.dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${this.port}\n${tlsSection}${authSection}`,
    );
    const proc = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout?.on('data', (d) => (this.logs += d));
    proc.stderr?.on('data', (d) => (this.logs += d));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const status = await new Promise<number>((resolve) => {
        const done = (res: http.IncomingMessage) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        };
        const req = options.tls
          ? https.get(`https://127.0.0.1:${this.port}/v2/`, { rejectUnauthorized: false }, done)
          : http.get(`http://127.0.0.1:${this.port}/v2/`, done);
        req.on('error', () => resolve(0));
      });
      if (status === 200 || status === 401) return;
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`docker-registry did not start: ${this.logs}`);
      await new Promise((r) => setTimeout(r, 50));
    }
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

/**
 * A token server for `LocalRegistry`'s token auth, as Docker Hub's auth service answers:
 * `GET <realm>?service=&scope=…` (Basic auth for a user) → `{"token","access_token",
 * "expires_in"}`, an RS256 JWT whose `x5c` header carries its certificate (which the
 * registry trusts as its root bundle). Users in `users` get every action they ask for;
 * anonymous requests get `pull` only; wrong credentials get 401. A login
 * (`offline_token=true`) also gets a `refresh_token`, good for the OAuth2 POST
 * (`grant_type=refresh_token`) that identity tokens use. `requests` records the
 * query of each request, `issued` counts tokens. Lifecycle: `start` (makes the key and
 * certificate with openssl in `dir`), then `LocalRegistry.start({ token })`, `stop`.
 */
export class TokenServer {
  readonly service = 'berth-test-registry';
  readonly issuer = 'berth-test-issuer';
  readonly requests: Array<{ query: string; user?: string }> = [];
  issued = 0;
  private server: http.Server | undefined;
  private port = 0;
  private keyPem = '';
  private certDer = '';

  constructor(
    readonly dir: string,
    private readonly users: Record<string, string>,
  ) {}

  get realm(): string {
    return `http://127.0.0.1:${this.port}/token`;
  }

  get certFile(): string {
    return path.join(this.dir, 'token-cert.pem');
  }

  async start(): Promise<void> {
    const { key } = selfSignedCertificate(this.dir, 'token', { cn: 'berth-test-token' });
    this.keyPem = readFileSync(key, 'utf8');
    this.certDer = new X509Certificate(readFileSync(this.certFile)).raw.toString('base64');
    this.server = http.createServer((req, res) => this.answer(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** Refresh tokens handed out to logins (`offline_token=true`), by token: the user. */
  private readonly refreshTokens = new Map<string, string>();

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method === 'POST') {
      // OAuth2: `grant_type=refresh_token` with a refresh token from an earlier login.
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const user = this.refreshTokens.get(form.get('refresh_token') ?? '');
        if (form.get('grant_type') !== 'refresh_token' || user === undefined) {
          res.writeHead(401, { 'Content-Type': 'application/json' });
          res.end('{"errors":[{"code":"UNAUTHORIZED","message":"invalid refresh token"}]}');
          return;
        }
        const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        this.requests.push({ query: `?refresh&${scopes.map((s) => `scope=${encodeURIComponent(s)}`).join('&')}`, user });
        this.grant(res, user, scopes);
      });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    let user: string | undefined;
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (basic) {
      const [name, ...rest] = Buffer.from(basic, 'base64').toString('utf8').split(':');
      if (this.users[name!] !== rest.join(':')) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
        return;
      }
      user = name;
    }
    this.requests.push({ query: url.search, user });
    const refresh = user !== undefined && url.searchParams.get('offline_token') === 'true' ? randomBytes(16).toString('hex') : undefined;
    if (refresh) this.refreshTokens.set(refresh, user!);
    this.grant(res, user, url.searchParams.getAll('scope'), refresh);
  }

  /** Answer a token for `user` (undefined: anonymous) with the actions it may have of `scopes`. */
  private grant(res: http.ServerResponse, user: string | undefined, scopes: string[], refresh?: string): void {
    const access = scopes.flatMap((scope) => {
      const [type, name, actions] = scope.split(':');
      if (!type || !name || !actions) return [];
      const granted = actions.split(',').filter((a) => user !== undefined || a === 'pull');
      return [{ type, name, actions: granted }];
    });
    const now = Math.floor(Date.now() / 1000);
    const token = this.sign({
      iss: this.issuer,
      sub: user ?? '',
      aud: this.service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    });
    this.issued++;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const body: Record<string, unknown> = { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() };
    if (refresh) body.refresh_token = refresh;
    res.end(JSON.stringify(body));
  }

  private sign(claims: unknown): string {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${b64({ alg: 'RS256', typ: 'JWT', x5c: [this.certDer] })}.${b64(claims)}`;
    const signature = createSign('RSA-SHA256').update(input).sign(this.keyPem).toString('base64url');
    return `${input}.${signature}`;
  }
}
