import type { RegistryAuth } from '@berth/core';
import { Unauthorized } from '@berth/core';
import { readBody, sendHttp } from './http-request.js';
import { registryErrorMessage } from './registry-errors.js';
import type { AuthChallenge } from './www-authenticate.js';

/** A bearer token and when it stops being worth sending. */
interface CachedToken {
  token: string;
  expires: number;
}

/**
 * The `Authorization` a registry wants, learnt from its `401` challenge
 * (`WWW-Authenticate`): `Basic` sends the credentials with every request; `Bearer` asks
 * the challenge's realm (the token server) for a token per set of scopes
 * (`repository:trc/busybox:pull,push`), with the credentials as Basic auth, or none for
 * an anonymous token, or an identity token as an OAuth2 refresh token (POST). Tokens
 * are kept per scope set until shortly before they expire.
 *
 * Lifecycle: one per registry client (one pull or push); `challenge` is set by the
 * client whenever a 401 arrives, `authorization(scopes)` is asked before each request.
 */
export class RegistryAuthorizer {
  private challengeSeen: AuthChallenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  /** The refresh token a login with credentials got back (`IdentityToken` of `POST /auth`). */
  refreshToken: string | undefined;

  constructor(
    private readonly auth: RegistryAuth | undefined,
    private readonly verifyTls: boolean,
    private readonly userAgent: string,
  ) {}

  /** Whether credentials were given at all. */
  get hasCredentials(): boolean {
    return !!(this.auth?.username || this.auth?.identitytoken || this.auth?.registrytoken);
  }

  /** Remember the registry's challenge (the first Bearer or Basic one); a new challenge drops cached tokens. */
  challenge(challenges: AuthChallenge[]): boolean {
    const chosen = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    if (!chosen) return false;
    this.challengeSeen = chosen;
    return true;
  }

  /** Forget the token of `scopes` (the registry refused it). */
  invalidate(scopes: string[]): void {
    this.tokens.delete(scopes.join(' '));
  }

  /** The `Authorization` header for a request needing `scopes`, or undefined when the registry asked for none. */
  async authorization(scopes: string[], signal?: AbortSignal): Promise<string | undefined> {
    if (this.auth?.registrytoken) return `Bearer ${this.auth.registrytoken}`;
    const challenge = this.challengeSeen;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      if (!this.auth?.username) return undefined;
      return `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password ?? ''}`).toString('base64')}`;
    }
    const key = scopes.join(' ');
    const cached = this.tokens.get(key);
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    const token = await this.fetchToken(challenge, scopes, signal);
    return `Bearer ${token}`;
  }

  /**
   * Ask the token server for a token. With credentials a refused request is
   * Unauthorized with the server's message; GET with Basic auth for a user and password,
   * POST (OAuth2 `refresh_token` grant) for an identity token.
   */
  async fetchToken(challenge: AuthChallenge, scopes: string[], signal?: AbortSignal, login = false): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new Unauthorized('the registry asked for a bearer token but named no realm to get it from');
    const url = new URL(realm);
    const headers: Record<string, string> = { 'User-Agent': this.userAgent };
    let body: Buffer | undefined;
    let method = 'GET';
    if (this.auth?.identitytoken) {
      method = 'POST';
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.auth.identitytoken, client_id: 'berth' });
      if (challenge.params.service) form.set('service', challenge.params.service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      body = Buffer.from(form.toString());
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    } else {
      if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      if (this.auth?.username) {
        url.searchParams.set('account', this.auth.username);
        headers.Authorization = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password ?? ''}`).toString('base64')}`;
        if (login) {
          url.searchParams.set('client_id', 'berth');
          url.searchParams.set('offline_token', 'true');
        }
      }
    }
    const res = await sendHttp({ method, url: url.toString(), headers, body, verifyTls: this.verifyTls, signal });
    const data = await readBody(res, 1 << 20);
    if (res.statusCode !== 200) {
      const message = registryErrorMessage(res.statusCode ?? 0, res.statusMessage, data);
      throw new Unauthorized(`cannot get a token from ${url.origin}${url.pathname}: ${message}`);
    }
    let parsed: { token?: string; access_token?: string; expires_in?: number; refresh_token?: string };
    try {
      parsed = JSON.parse(data.toString('utf8'));
    } catch {
      throw new Unauthorized(`the token server ${url.origin}${url.pathname} answered something that is not JSON`);
    }
    const token = parsed.token || parsed.access_token;
    if (!token) throw new Unauthorized(`the token server ${url.origin}${url.pathname} answered no token`);
    if (parsed.refresh_token) this.refreshToken = parsed.refresh_token;
    // Docker's minimum lifetime is 60 s; keep a margin so a token never expires in flight.
    const lifetime = Math.max(60, parsed.expires_in ?? 60);
    this.tokens.set(scopes.join(' '), { token, expires: Date.now() + (lifetime - 10) * 1000 });
    return token;
  }

  /** The challenge last seen (login needs it to decide how to check credentials). */
  get currentChallenge(): AuthChallenge | undefined {
    return this.challengeSeen;
  }
}
