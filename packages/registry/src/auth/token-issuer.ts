import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Access } from './access.js';

/** The claims of a registry token (the fields Docker's token specification names). */
export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: Access[];
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/**
 * Issues and verifies the registry's own bearer tokens: JWTs signed with HMAC-SHA256
 * under a key every replica reads from the same place (the token key file), so a token
 * one replica issued is good on all. The registry is both the token server and the
 * resource server, so a shared secret is enough; nothing outside verifies these tokens.
 */
export class TokenIssuer {
  constructor(
    private readonly key: Buffer,
    readonly issuer: string,
    readonly service: string,
    readonly ttlSeconds: number,
  ) {
    if (key.length < 32) throw new Error('token key must be at least 32 bytes');
  }

  issue(subject: string, access: Access[], now = Date.now()): { token: string; claims: TokenClaims } {
    const iat = Math.floor(now / 1000);
    const claims: TokenClaims = {
      iss: this.issuer,
      sub: subject,
      aud: this.service,
      iat,
      nbf: iat - 1,
      exp: iat + this.ttlSeconds,
      jti: randomBytes(12).toString('hex'),
      access,
    };
    const body = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
    return { token: `${body}.${this.sign(body)}`, claims };
  }

  /** The claims of a token this issuer signed that is valid now; undefined otherwise (forged, expired, another service's). */
  verify(token: string, now = Date.now()): TokenClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const expected = Buffer.from(this.sign(`${parts[0]}.${parts[1]}`));
    const given = Buffer.from(parts[2]!);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    let header: { alg?: string };
    let claims: TokenClaims;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const t = Math.floor(now / 1000);
    if (header.alg !== 'HS256' || claims.iss !== this.issuer || claims.aud !== this.service) return undefined;
    if (!(t < claims.exp && t >= claims.nbf) || !Array.isArray(claims.access)) return undefined;
    return claims;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
