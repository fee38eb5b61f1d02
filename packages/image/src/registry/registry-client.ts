import type { IncomingMessage } from 'node:http';
import { InvalidArgument, NotFound, type RegistryAuth, SystemError, Unauthorized } from '@berth/core';
import { type Digest, isDigest, sha256Digest } from '../digest.js';
import { isSchema1MediaType, MediaTypes } from '../media-types.js';
import { discard, type HttpRequest, isConnectionError, readBody, sendHttp } from './http-request.js';
import { RegistryAuthorizer } from './registry-authorizer.js';
import { type RegistryTls, readCertsDirectory } from './registry-certs.js';
import { registryError } from './registry-errors.js';
import type { RegistryEndpoint } from './registry-hosts.js';
import { parseWwwAuthenticate } from './www-authenticate.js';

/** Every manifest type a pull accepts, sent as Accept (Docker's list, without schema 1). */
export const manifestAcceptTypes = [MediaTypes.dockerManifestList, MediaTypes.ociIndex, MediaTypes.dockerManifest, MediaTypes.ociManifest];

/** A manifest as fetched: its exact bytes (its digest is over them), its type and digest. */
export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

/** Options of `RegistryClient`. */
export interface RegistryClientOptions {
  /** Where to send requests, in order (mirrors first); see `registryEndpoints`. */
  endpoints: RegistryEndpoint[];
  auth?: RegistryAuth;
  userAgent?: string;
  /** How many times a blob download cut short is resumed with a Range request (default 5). */
  maxResumes?: number;
  /** A connection idle this long is cut (and a blob download resumed); default 60 s. */
  idleTimeoutMs?: number;
  /**
   * A blob download the registry answered with a server error (5xx) is asked again after
   * this many ms times the attempt's number (default 1000: 1 s, 2 s, ...), as dockerd retries a
   * layer download; the attempts count against `maxResumes`.
   */
  retryDelayMs?: number;
}

/** What a request needs: its scopes decide the bearer token. */
interface RegistryRequest extends Omit<HttpRequest, 'url' | 'verifyTls' | 'tls'> {
  path: string;
  scopes: string[];
  /** Follow 3xx to the Location (blob downloads are often redirected to storage), without our Authorization. */
  followRedirects?: boolean;
}

/**
 * A client of one registry's distribution API (v2), for one pull or push: `ping` picks
 * the endpoint and scheme that answer and learns the auth challenge, then every request
 * carries the `Authorization` its scopes need (`RegistryAuthorizer`); a 401 with a new
 * challenge is answered once with a fresh token, when the request can be sent again (a
 * streamed upload cannot: it is always preceded by a request that settled the token).
 *
 * Lifecycle: construct, `ping`, then any of the manifest, blob and upload calls; nothing
 * to close (connections are not kept).
 */
export class RegistryClient {
  private base: string | undefined;
  private endpoint: RegistryEndpoint | undefined;
  private authorizer: RegistryAuthorizer | undefined;
  /** The chosen endpoint's certs.d material, read by `ping`. */
  private tls: RegistryTls | undefined;
  private readonly userAgent: string;
  private readonly maxResumes: number;

  constructor(private readonly options: RegistryClientOptions) {
    if (options.endpoints.length === 0) throw new SystemError('registry client: no endpoint to reach');
    this.userAgent = options.userAgent ?? 'berth';
    this.maxResumes = options.maxResumes ?? 5;
  }

  /** The base URL chosen by `ping` (`http://127.0.0.1:5000`). */
  get baseUrl(): string {
    if (!this.base) throw new SystemError('registry client: ping first');
    return this.base;
  }

  /** Whether the endpoint in use is a Docker Hub mirror. */
  get usingMirror(): boolean {
    return this.endpoint?.mirror ?? false;
  }

  /**
   * A client of the same registry without its mirrors (not pinged yet), for a pull to
   * fall back to Docker Hub when a mirror lacks the image, as dockerd does; undefined
   * when only mirrors were configured.
   */
  withoutMirrors(): RegistryClient | undefined {
    const endpoints = this.options.endpoints.filter((e) => !e.mirror);
    return endpoints.length ? new RegistryClient({ ...this.options, endpoints }) : undefined;
  }

  /**
   * `GET /v2/` on each endpoint and scheme in turn until one answers 200 or 401 (then its
   * challenge is kept). A connection failure moves to the next (TLS refused by a plain
   * HTTP registry → its `http://` URL); the last failure is thrown.
   */
  async ping(signal?: AbortSignal): Promise<void> {
    let lastError: unknown;
    for (const endpoint of this.options.endpoints) {
      const tls = endpoint.certsDir ? await readCertsDirectory(endpoint.certsDir) : undefined;
      for (const url of endpoint.urls) {
        let res: IncomingMessage;
        try {
          res = await sendHttp({
            method: 'GET',
            url: `${url}/v2/`,
            headers: { 'User-Agent': this.userAgent },
            verifyTls: endpoint.verifyTls,
            tls,
            signal,
          });
        } catch (err) {
          if (signal?.aborted || !isConnectionError(err)) throw err;
          lastError = err;
          continue;
        }
        const status = res.statusCode ?? 0;
        if (status === 200 || status === 401) {
          discard(res);
          this.base = url;
          this.endpoint = endpoint;
          this.tls = tls;
          this.authorizer = new RegistryAuthorizer(this.options.auth, endpoint.verifyTls, this.userAgent, tls);
          if (status === 401) this.authorizer.challenge(parseWwwAuthenticate(res.headers['www-authenticate']));
          return;
        }
        lastError = await registryError(res, `GET ${url}/v2/`);
        if (!endpoint.mirror) throw lastError;
      }
    }
    const message = lastError instanceof Error ? lastError.message : String(lastError);
    throw new SystemError(`cannot reach the registry ${this.options.endpoints.at(-1)!.host}: ${message}`, { cause: lastError });
  }

  /**
   * `docker login`: the credentials checked against `/v2/` (Basic) or the token server
   * (Bearer, no scope). Unauthorized in Docker's words when refused. Returns the refresh
   * token a token server gave, if any.
   */
  async login(signal?: AbortSignal): Promise<{ identityToken?: string }> {
    await this.ping(signal);
    const authorizer = this.authorizer!;
    const challenge = authorizer.currentChallenge;
    if (!challenge) return {};
    if (challenge.scheme === 'bearer') {
      await authorizer.fetchToken(challenge, [], signal, true);
      return authorizer.refreshToken ? { identityToken: authorizer.refreshToken } : {};
    }
    const res = await this.send({ method: 'GET', path: '/v2/', scopes: [], signal }, false);
    discard(res);
    if (res.statusCode === 200) return {};
    throw new Unauthorized(`login attempt to ${this.baseUrl}/v2/ failed with status: ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
  }

  /**
   * The manifest `reference` (a tag or a digest) of `repository`. A digest reference is
   * checked against the bytes; NotFound with the registry's words (`manifest unknown`).
   */
  async getManifest(repository: string, reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const res = await this.send({
      method: 'GET',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { Accept: manifestAcceptTypes },
      scopes: [pullScope(repository)],
      signal,
    });
    if (res.statusCode !== 200) throw await registryError(res);
    const bytes = await readBody(res, 4 << 20);
    const digest = sha256Digest(bytes);
    if (isDigest(reference) && reference !== digest) {
      throw new SystemError(`manifest ${reference} of ${repository}: the registry sent content whose digest is ${digest}`);
    }
    const mediaType = mediaTypeOf(bytes, res.headers['content-type']);
    return { bytes, mediaType, digest };
  }

  /** The digest a tag currently names (HEAD), or undefined when the registry does not say. NotFound when unknown. */
  async headManifest(repository: string, reference: string, signal?: AbortSignal): Promise<Digest | undefined> {
    const res = await this.send({
      method: 'HEAD',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { Accept: manifestAcceptTypes },
      scopes: [pullScope(repository)],
      signal,
    });
    discard(res);
    if (res.statusCode === 404) throw new NotFound(`manifest unknown: manifest unknown`);
    if (res.statusCode !== 200) return undefined;
    const digest = res.headers['docker-content-digest'];
    return typeof digest === 'string' && isDigest(digest) ? digest : undefined;
  }

  /** Every tag of `repository`, following the `Link` pagination. */
  async listTags(repository: string, signal?: AbortSignal): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repository}/tags/list`;
    while (path) {
      const res = await this.send({ method: 'GET', path, scopes: [pullScope(repository)], signal });
      if (res.statusCode !== 200) throw await registryError(res, `cannot list the tags of ${repository}`);
      const body = JSON.parse((await readBody(res, 16 << 20)).toString('utf8')) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      const link = res.headers.link;
      const next = typeof link === 'string' ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1] : undefined;
      path = next ? (next.startsWith('http') ? new URL(next).pathname + new URL(next).search : next) : undefined;
    }
    return tags;
  }

  /**
   * The bytes of a blob, as they arrive. A connection cut short is resumed where it
   * stopped with a `Range` request (up to `maxResumes` times, server errors answered to a
   * request included, those after a pause of `retryDelayMs`); a server that ignores the
   * range and sends the whole blob again has the part already passed on skipped. The
   * digest is not checked here: the consumer (`ContentStore.ingest`) does it.
   * `onBytes` is told the running count, `onRetry` each pause before asking again (ms).
   */
  async *blob(
    repository: string,
    digest: Digest,
    size: number,
    onBytes?: (n: number) => void,
    signal?: AbortSignal,
    onRetry?: (delayMs: number) => void,
  ): AsyncGenerator<Buffer> {
    let received = 0;
    let resumes = 0;
    for (;;) {
      const headers: Record<string, string> = {};
      if (received > 0) headers.Range = `bytes=${received}-`;
      let res: IncomingMessage | undefined;
      try {
        res = await this.send({
          method: 'GET',
          path: `/v2/${repository}/blobs/${digest}`,
          headers,
          scopes: [pullScope(repository)],
          followRedirects: true,
          signal,
        });
        if (res.statusCode !== 200 && res.statusCode !== 206) {
          const error = await registryError(res, `cannot fetch blob ${digest}`);
          // A server error is often passing (a replica restarting, a proxy's timeout): asked again.
          throw (res.statusCode ?? 0) >= 500 ? Object.assign(error, { serverError: true }) : error;
        }
        let skip = res.statusCode === 200 ? received : 0;
        for await (const raw of res) {
          let chunk = raw as Buffer;
          if (skip > 0) {
            const n = Math.min(skip, chunk.length);
            skip -= n;
            chunk = chunk.subarray(n);
            if (chunk.length === 0) continue;
          }
          received += chunk.length;
          // The manifest says how big the blob is: more is a registry gone wrong (or
          // hostile), refused before it fills the disk.
          if (size > 0 && received > size) {
            throw new InvalidArgument(`blob ${digest} of ${repository}: the registry sent more than the ${size} bytes the manifest names`);
          }
          onBytes?.(received);
          yield chunk;
        }
        if (received >= size) return;
        throw Object.assign(new Error(`blob ${digest}: connection ended after ${received} of ${size} bytes`), { code: 'ECONNRESET' });
      } catch (err) {
        const serverError = (err as { serverError?: boolean }).serverError === true;
        if (signal?.aborted || !(serverError || isResumable(err)) || resumes >= this.maxResumes) throw err;
        resumes++;
        if (serverError) {
          const delayMs = (this.options.retryDelayMs ?? 1000) * resumes;
          onRetry?.(delayMs);
          await sleep(delayMs, signal);
        }
      } finally {
        res?.destroy();
      }
    }
  }

  /** Whether `repository` has the blob (HEAD). */
  async hasBlob(repository: string, digest: Digest, signal?: AbortSignal): Promise<boolean> {
    const res = await this.send({
      method: 'HEAD',
      path: `/v2/${repository}/blobs/${digest}`,
      scopes: [pushScope(repository)],
      followRedirects: true,
      signal,
    });
    discard(res);
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw await registryError(res, `cannot check blob ${digest}`);
  }

  /**
   * Ask the registry to link `digest` from `from` (another repository of the same
   * registry) into `repository`: true when it did (201). Otherwise the upload session it
   * opened instead is returned, to upload into.
   */
  async mountBlob(
    repository: string,
    digest: Digest,
    from: string,
    signal?: AbortSignal,
  ): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const query = new URLSearchParams({ mount: digest, from });
    const res = await this.send({
      method: 'POST',
      path: `/v2/${repository}/blobs/uploads/?${query}`,
      headers: { 'Content-Length': '0' },
      scopes: [pushScope(repository), pullScope(from)],
      signal,
    });
    discard(res);
    if (res.statusCode === 201) return { mounted: true };
    if (res.statusCode === 202) return { mounted: false, location: this.location(res) };
    throw await registryError(res, `cannot mount blob ${digest} from ${from}`);
  }

  /** Open an upload session (`POST …/blobs/uploads/`); returns its Location. */
  async startUpload(repository: string, signal?: AbortSignal): Promise<string> {
    const res = await this.send({
      method: 'POST',
      path: `/v2/${repository}/blobs/uploads/`,
      headers: { 'Content-Length': '0' },
      scopes: [pushScope(repository)],
      signal,
    });
    if (res.statusCode !== 202) throw await registryError(res, `cannot start an upload to ${repository}`);
    discard(res);
    return this.location(res);
  }

  /**
   * Upload a blob into the session at `location`: one `PUT ?digest=` with the whole body
   * (monolithic) when `chunkSize` is 0 or the blob fits in a chunk, else `PATCH`es of
   * `chunkSize` bytes (with `Content-Range`) then an empty `PUT ?digest=`. `chunks`
   * yields the blob's bytes; `onBytes` is told the running count.
   */
  async upload(
    repository: string,
    location: string,
    digest: Digest,
    size: number,
    content: AsyncIterable<Uint8Array>,
    options: { chunkSize?: number; onBytes?: (n: number) => void; signal?: AbortSignal } = {},
  ): Promise<void> {
    const scopes = [pushScope(repository)];
    const chunkSize = options.chunkSize ?? 0;
    let sent = 0;
    const counted = async function* (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      for await (const chunk of source) {
        sent += chunk.length;
        options.onBytes?.(sent);
        yield chunk;
      }
    };
    let url = location;
    if (chunkSize > 0 && size > chunkSize) {
      for await (const piece of rechunk(content, chunkSize)) {
        const start = sent;
        const res = await this.send(
          {
            method: 'PATCH',
            path: url,
            headers: {
              'Content-Type': 'application/octet-stream',
              'Content-Length': String(piece.length),
              'Content-Range': `${start}-${start + piece.length - 1}`,
            },
            body: counted([piece]),
            scopes,
            signal: options.signal,
          },
          false,
        );
        if (res.statusCode !== 202) throw await registryError(res, `cannot upload blob ${digest}`);
        discard(res);
        url = this.location(res);
      }
      const res = await this.send(
        { method: 'PUT', path: withDigest(url, digest), headers: { 'Content-Length': '0' }, scopes, signal: options.signal },
        false,
      );
      if (res.statusCode !== 201) throw await registryError(res, `cannot upload blob ${digest}`);
      discard(res);
      return;
    }
    const res = await this.send(
      {
        method: 'PUT',
        path: withDigest(url, digest),
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
        body: counted(content),
        scopes,
        signal: options.signal,
      },
      false,
    );
    if (res.statusCode !== 201) throw await registryError(res, `cannot upload blob ${digest}`);
    discard(res);
  }

  /**
   * A blob whose digest is known only once it is all sent (a layer compressed on its way
   * out), as dockerd uploads: one `PATCH` streaming the body (chunked, no length), or with
   * `chunkSize` one `PATCH` per piece of that size (`Content-Range`), then `PUT ?digest=`
   * with the digest `digestOf` gives after the last byte. The registry checks the digest
   * over what it received.
   */
  async uploadStream(
    repository: string,
    location: string,
    content: AsyncIterable<Uint8Array>,
    digestOf: () => Digest,
    options: { chunkSize?: number; signal?: AbortSignal } = {},
  ): Promise<Digest> {
    const scopes = [pushScope(repository)];
    const patch = async (url: string, body: Buffer | AsyncIterable<Uint8Array>, headers: Record<string, string>): Promise<string> => {
      const res = await this.send(
        {
          method: 'PATCH',
          path: url,
          headers: { 'Content-Type': 'application/octet-stream', ...headers },
          body,
          scopes,
          signal: options.signal,
        },
        false,
      );
      if (res.statusCode !== 202) throw await registryError(res, 'cannot upload blob');
      discard(res);
      return this.location(res);
    };
    let url = location;
    if ((options.chunkSize ?? 0) > 0) {
      let start = 0;
      for await (const piece of rechunk(content, options.chunkSize!)) {
        url = await patch(url, piece, {
          'Content-Length': String(piece.length),
          'Content-Range': `${start}-${start + piece.length - 1}`,
        });
        start += piece.length;
      }
    } else {
      url = await patch(url, content, {});
    }
    const digest = digestOf();
    const res = await this.send(
      { method: 'PUT', path: withDigest(url, digest), headers: { 'Content-Length': '0' }, scopes, signal: options.signal },
      false,
    );
    if (res.statusCode !== 201) throw await registryError(res, `cannot upload blob ${digest}`);
    discard(res);
    return digest;
  }

  /** `PUT` a manifest under `reference` (a tag); returns the digest the registry names it by. */
  async putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer, signal?: AbortSignal): Promise<Digest> {
    const res = await this.send({
      method: 'PUT',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { 'Content-Type': mediaType, 'Content-Length': String(bytes.length) },
      body: bytes,
      scopes: [pushScope(repository)],
      signal,
    });
    if (res.statusCode !== 201 && res.statusCode !== 200)
      throw await registryError(res, `cannot put the manifest of ${repository}:${reference}`);
    discard(res);
    const digest = sha256Digest(bytes);
    const said = res.headers['docker-content-digest'];
    if (typeof said === 'string' && isDigest(said) && said !== digest) {
      throw new SystemError(`the registry named the manifest of ${repository}:${reference} ${said}, but its bytes hash to ${digest}`);
    }
    return digest;
  }

  /**
   * One request with the Authorization its scopes need. A 401 that brings a challenge
   * is answered once more with a fresh token, when `retry` allows (bodies that are
   * streams cannot be sent twice). Redirects are followed without Authorization.
   */
  private async send(req: RegistryRequest, retry = true): Promise<IncomingMessage> {
    const authorizer = this.authorizer;
    if (!authorizer) throw new SystemError('registry client: ping first');
    const url = req.path.startsWith('http://') || req.path.startsWith('https://') ? req.path : `${this.baseUrl}${req.path}`;
    const headers: Record<string, string | string[]> = { 'User-Agent': this.userAgent, ...(req.headers ?? {}) };
    const authorization = await authorizer.authorization(req.scopes, req.signal);
    // Credentials go only to the registry's own host, never to another one a Location names.
    if (authorization && new URL(url).origin === new URL(this.baseUrl).origin) headers.Authorization = authorization;
    let res = await sendHttp({
      method: req.method,
      url,
      headers,
      body: req.body,
      verifyTls: this.endpoint!.verifyTls,
      tls: this.tls,
      signal: req.signal,
      idleTimeoutMs: this.options.idleTimeoutMs,
    });
    if (res.statusCode === 401 && retry) {
      const challenges = parseWwwAuthenticate(res.headers['www-authenticate']);
      if (challenges.length && challenges.every((c) => c.params.error !== 'insufficient_scope')) {
        discard(res);
        authorizer.invalidate(req.scopes);
        authorizer.challenge(challenges);
        return this.send(req, false);
      }
    }
    let hops = 0;
    while (req.followRedirects && res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
      if (++hops > 5) throw new SystemError(`too many redirects fetching ${req.path}`);
      discard(res);
      const next = new URL(res.headers.location, url).toString();
      const redirected: Record<string, string | string[]> = { 'User-Agent': this.userAgent };
      if (req.headers?.Range) redirected.Range = req.headers.Range;
      res = await sendHttp({
        method: req.method,
        url: next,
        headers: redirected,
        verifyTls: this.endpoint!.verifyTls,
        tls: this.tls,
        signal: req.signal,
        idleTimeoutMs: this.options.idleTimeoutMs,
      });
    }
    return res;
  }

  /** The absolute URL of a response's Location (registries may answer a relative one). */
  private location(res: IncomingMessage): string {
    const location = res.headers.location;
    if (!location) throw new SystemError('the registry answered an upload without a Location');
    return new URL(location, this.baseUrl).toString();
  }
}

/** `repository:<name>:pull`. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

/** `repository:<name>:pull,push`. */
export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}

/** The media type of a manifest: its own `mediaType` field, else the Content-Type (OCI manifests may omit it). */
function mediaTypeOf(bytes: Buffer, contentType: string | undefined): string {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as {
      mediaType?: unknown;
      manifests?: unknown;
      config?: unknown;
      schemaVersion?: unknown;
    };
    if (typeof parsed.mediaType === 'string' && parsed.mediaType !== '') return parsed.mediaType;
    // Schema 1 has no mediaType field, and old registries served it as application/json.
    if (parsed.schemaVersion === 1) {
      const declared = (contentType ?? '').split(';')[0]!.trim();
      return isSchema1MediaType(declared) ? declared : MediaTypes.dockerSchema1SignedManifest;
    }
    if (Array.isArray(parsed.manifests)) return MediaTypes.ociIndex;
    if (parsed.config !== undefined) return MediaTypes.ociManifest;
  } catch {
    // not JSON: the caller refuses it by type
  }
  return (contentType ?? '').split(';')[0]!.trim();
}

function withDigest(url: string, digest: Digest): string {
  const u = new URL(url);
  u.searchParams.set('digest', digest);
  return u.toString();
}

/** Cut a stream into pieces of exactly `size` bytes (the last may be shorter). */
async function* rechunk(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const chunk of source) {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (length + buf.length >= size) {
      const take = size - length;
      parts.push(buf.subarray(0, take));
      yield Buffer.concat(parts);
      parts = [];
      length = 0;
      buf = buf.subarray(take);
    }
    if (buf.length) {
      parts.push(Buffer.from(buf));
      length += buf.length;
    }
  }
  if (length > 0) yield Buffer.concat(parts);
}

/** A download cut short by the connection, which a Range request can pick up. */
function isResumable(err: unknown): boolean {
  if (isConnectionError(err)) return true;
  const message = (err as Error)?.message ?? '';
  return message === 'aborted' || (err as NodeJS.ErrnoException)?.code === 'ECONNRESET';
}

/** Resolves after `ms`, or rejects when `signal` aborts first. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
