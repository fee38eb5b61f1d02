import type { IncomingMessage } from 'node:http';
import { type Access, covers, formatScope } from './access.js';
import type { Htpasswd } from './htpasswd.js';
import type { TokenIssuer } from './token-issuer.js';

/** What an authorizer decided about one request. */
export type AuthDecision =
  | { ok: true; subject?: string }
  /** 401 with this `WWW-Authenticate` challenge; `insufficient`: credentials were fine but not for this. */
  | { ok: false; challenge: string; message: string };

/**
 * Decides whether a request may have the access it needs. The server asks before it
 * touches the storage; `needed` is empty for `GET /v2/` (any valid credentials).
 */
export interface Authorizer {
  authorize(req: IncomingMessage, needed: Access[]): Promise<AuthDecision>;
}

/** No authentication: everything is allowed (the default, for a registry on loopback or behind a proxy). */
export class OpenAccess implements Authorizer {
  async authorize(): Promise<AuthDecision> {
    return { ok: true };
  }
}

/** `user:password` of a Basic Authorization header; undefined when there is none or it is malformed. */
export function basicCredentials(req: IncomingMessage): { user: string; password: string } | undefined {
  const header = req.headers.authorization;
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** HTTP Basic against an htpasswd file: a known user may do everything. */
export class BasicAccess implements Authorizer {
  constructor(
    private readonly users: Htpasswd,
    private readonly realm = 'berth-registry',
  ) {}

  async authorize(req: IncomingMessage): Promise<AuthDecision> {
    const creds = basicCredentials(req);
    if (creds && (await this.users.verify(creds.user, creds.password))) return { ok: true, subject: creds.user };
    return {
      ok: false,
      challenge: `Basic realm="${this.realm}"`,
      message: creds ? 'authentication failed' : 'authentication required',
    };
  }
}

/**
 * Bearer tokens the registry issues itself (Docker's token authentication): a request
 * without a token that covers it gets 401 and a challenge naming the token endpoint
 * (`realm`), the service and the scope to ask for; the client fetches a token there with
 * its Basic credentials and retries with `Authorization: Bearer`.
 */
export class TokenAccess implements Authorizer {
  constructor(
    private readonly issuer: TokenIssuer,
    /** The token endpoint's URL; undefined: `<scheme>://<Host of the request>/token`, right on every replica. */
    private readonly realm: string | undefined,
    private readonly tls: boolean,
  ) {}

  async authorize(req: IncomingMessage, needed: Access[]): Promise<AuthDecision> {
    const header = req.headers.authorization;
    const claims = header && /^bearer /i.test(header) ? this.issuer.verify(header.slice(7).trim()) : undefined;
    if (claims && needed.every((n) => covers(claims.access, n))) return { ok: true, subject: claims.sub };
    const realm = this.realm ?? `${this.tls ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}/token`;
    let challenge = `Bearer realm="${realm}",service="${this.issuer.service}"`;
    if (needed.length) challenge += `,scope="${needed.map(formatScope).join(' ')}"`;
    if (claims) challenge += ',error="insufficient_scope"';
    return { ok: false, challenge, message: claims ? 'insufficient scope' : 'authentication required' };
  }
}
