import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { InvalidArgument } from '@berth/core';
import { type Authorizer, BasicAccess, OpenAccess, TokenAccess } from './auth/authorizer.js';
import { Htpasswd } from './auth/htpasswd.js';
import { serveToken } from './auth/token-endpoint.js';
import { TokenIssuer } from './auth/token-issuer.js';
import { RegistryApi } from './http/registry-api.js';
import { FilesystemStorage } from './storage/filesystem-storage.js';
import type { RegistryStorage } from './storage/registry-storage.js';

/** Token authentication settings (`--token-auth` and the `--token-*` flags). */
export interface TokenOptions {
  /** The token endpoint clients are sent to; default: `/token` of the Host each request names. */
  realm?: string;
  /** The service name tokens are issued for. Default `berth-registry`. */
  service?: string;
  /** A file of at least 32 bytes every replica shares; default `<root>/token.key`, made on first start. */
  keyFile?: string;
  /** How long a token lasts. Default 300 s. */
  ttlSeconds?: number;
}

/** How `berth registry serve` and `berth-registry` run a registry. */
export interface RegistryServerOptions {
  /** `host:port`, `:port` (every address) or `[::1]:port`. Default `:5000`. */
  addr?: string;
  /** The storage directory. */
  root: string;
  /** An htpasswd file of bcrypt entries: enables Basic auth (or, with `token`, the token endpoint's users). */
  htpasswd?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Bearer tokens issued by this registry (needs `htpasswd`). */
  token?: TokenOptions;
  /** A storage to serve instead of the filesystem at `root` (tests, other backends). */
  storage?: RegistryStorage;
  /** Log lines (failures). Default stderr. */
  log?: (line: string) => void;
}

/** Splits `--addr`; throws InvalidArgument naming it when it is not `host:port`. */
export function parseAddr(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new InvalidArgument(`invalid --addr "${addr}" (want host:port, :port or [ipv6]:port)`);
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

/** The token key at `file`, or the storage root's own (made once, atomically, so replicas starting together agree). */
async function tokenKey(root: string, file: string | undefined): Promise<Buffer> {
  if (file) {
    const key = await fs.readFile(file).catch((err: Error) => {
      throw new InvalidArgument(`cannot read --token-key ${file}: ${err.message}`);
    });
    if (key.length < 32) throw new InvalidArgument(`--token-key ${file} holds ${key.length} bytes; at least 32 are needed`);
    return key;
  }
  const own = path.join(root, 'token.key');
  try {
    await fs.writeFile(own, randomBytes(32), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return fs.readFile(own);
}

/**
 * A running registry: the API over HTTP or HTTPS. Lifecycle: `start` (opens the storage,
 * reads the auth files, listens) → serve → `close` (stops listening, ends idle keep-alive
 * connections and waits for requests in flight). It keeps nothing in memory that another
 * replica would need: stop it at any time, start another on the same root.
 */
export class RegistryServer {
  private constructor(
    private readonly server: http.Server,
    readonly tls: boolean,
  ) {}

  static async start(options: RegistryServerOptions): Promise<RegistryServer> {
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    if ((options.tlsCert === undefined) !== (options.tlsKey === undefined))
      throw new InvalidArgument('--tls-cert and --tls-key go together');
    if (options.token && !options.htpasswd)
      throw new InvalidArgument('token authentication needs --htpasswd (the users the token endpoint checks)');
    const { host, port } = parseAddr(options.addr ?? ':5000');
    const storage = options.storage ?? (await FilesystemStorage.open(options.root));
    const tls = options.tlsCert !== undefined;
    let authorizer: Authorizer = new OpenAccess();
    let tokenEndpoint: ConstructorParameters<typeof RegistryApi>[0]['tokenEndpoint'];
    if (options.htpasswd) {
      const users = Htpasswd.load(options.htpasswd);
      if (options.token) {
        const t = options.token;
        const issuer = new TokenIssuer(
          await tokenKey(options.root, t.keyFile),
          'berth-registry',
          t.service ?? 'berth-registry',
          t.ttlSeconds ?? 300,
        );
        authorizer = new TokenAccess(issuer, t.realm, tls);
        tokenEndpoint = (req, res, url) => serveToken(req, res, url, users, issuer);
      } else authorizer = new BasicAccess(users);
    }
    const api = new RegistryApi({
      storage,
      authorizer,
      tokenEndpoint,
      onError: (err, req) => log(`registry: ${req.method} ${req.url}: ${(err as Error)?.stack ?? err}`),
    });
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      void api.handle(req, res);
    };
    let server: http.Server;
    if (tls) {
      const read = (file: string, flag: string) => {
        try {
          return readFileSync(file);
        } catch (err) {
          throw new InvalidArgument(`cannot read ${flag} ${file}: ${(err as Error).message}`);
        }
      };
      server = https.createServer({ cert: read(options.tlsCert!, '--tls-cert'), key: read(options.tlsKey!, '--tls-key') }, handler);
    } else server = http.createServer(handler);
    // Blob uploads and downloads may take long; only a client that never sends its headers is cut off.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new RegistryServer(server, tls);
  }

  /** Where it listens. */
  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /**
   * Stop listening and end: idle connections at once, requests in flight given `graceMs`
   * to finish, then every connection closed (a client that cut its upload may leave a
   * half-open connection the server never hears the end of).
   */
  async close(graceMs = 2000): Promise<void> {
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => this.server.closeAllConnections(), graceMs);
      this.server.close(() => {
        clearTimeout(force);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }
}
