import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Access, parseScope } from './access.js';
import { basicCredentials } from './authorizer.js';
import type { Htpasswd } from './htpasswd.js';
import type { TokenIssuer } from './token-issuer.js';

// What a token can grant: the repository actions the server checks, and the catalog.
const REPOSITORY_ACTIONS = new Set(['pull', 'push', 'delete', '*']);

/**
 * `GET /token?service=…&scope=…`: checks the caller's Basic credentials against the
 * htpasswd users and answers a token granting the requested scopes an htpasswd user may
 * have (every repository action, and the catalog); scopes of unknown types are dropped,
 * as the token specification says, rather than failing the request.
 */
export async function serveToken(req: IncomingMessage, res: ServerResponse, url: URL, users: Htpasswd, issuer: TokenIssuer): Promise<void> {
  const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  const creds = basicCredentials(req);
  if (!creds || !(await users.verify(creds.user, creds.password))) {
    send(
      401,
      { errors: [{ code: 'UNAUTHORIZED', message: creds ? 'authentication failed' : 'authentication required' }] },
      { 'WWW-Authenticate': 'Basic realm="berth-registry"' },
    );
    return;
  }
  const service = url.searchParams.get('service');
  if (service !== null && service !== issuer.service) {
    send(400, { errors: [{ code: 'DENIED', message: `unknown service "${service}" (this registry is "${issuer.service}")` }] });
    return;
  }
  const granted: Access[] = [];
  for (const raw of url.searchParams.getAll('scope').flatMap((s) => s.split(' '))) {
    const scope = parseScope(raw);
    if (!scope) continue;
    if (scope.type === 'repository') granted.push({ ...scope, actions: scope.actions.filter((a) => REPOSITORY_ACTIONS.has(a)) });
    else if (scope.type === 'registry' && scope.name === 'catalog') granted.push({ ...scope, actions: ['*'] });
  }
  const { token, claims } = issuer.issue(creds.user, granted);
  send(200, { token, access_token: token, expires_in: issuer.ttlSeconds, issued_at: new Date(claims.iat * 1000).toISOString() });
}
