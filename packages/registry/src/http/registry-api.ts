import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isBerthError } from '@berth/core';
import type { Access } from '../auth/access.js';
import type { Authorizer } from '../auth/authorizer.js';
import { type Digest, digestOf, looksLikeDigest, parseDigest, requireDigest } from '../digest.js';
import { DistributionError } from '../distribution-error.js';
import { MEDIA_TYPES, parseManifest } from '../manifest.js';
import { checkRepositoryName, isRepositoryName, isTag } from '../names.js';
import {
  DigestMismatch,
  type ManifestRecord,
  type ReferrerDescriptor,
  type RegistryStorage,
  UploadOffsetMismatch,
  type UploadSession,
} from '../storage/registry-storage.js';
import { ManifestAccept } from './manifest-accept.js';
import { hasBody, parseContentRange, parseRange, readSmallBody } from './request-body.js';
import { matchRoute, type Route } from './routes.js';

/** The largest manifest accepted (the reference registry's limit too). */
export const MAX_MANIFEST_BYTES = 4 << 20;

/** What the API needs besides the storage. */
export interface RegistryApiOptions {
  storage: RegistryStorage;
  authorizer: Authorizer;
  /** Serves `GET /token` (token authentication); undefined: no token endpoint. */
  tokenEndpoint?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;
  /** Called with every failure that is not the client's (a 500), for the log. */
  onError?: (err: unknown, req: IncomingMessage) => void;
}

type Headers = Record<string, string | number>;

const API_VERSION_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' };

/**
 * The OCI Distribution API over a RegistryStorage: one `handle(req, res)` per request,
 * with no state between requests (everything lives in the storage), so any number of
 * replicas can serve one storage. Blobs stream from the storage to the socket; nothing
 * holds a whole blob in memory. Errors are the spec's `{"errors":[…]}` bodies.
 */
export class RegistryApi {
  private readonly storage: RegistryStorage;

  constructor(private readonly options: RegistryApiOptions) {
    this.storage = options.storage;
  }

  /** Serves one request; never rejects (failures become error responses). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://registry');
      const route = matchRoute(url.pathname);
      if (!route) throw new DistributionError('UNSUPPORTED', `no such endpoint: ${req.method} ${url.pathname}`, undefined, { status: 404 });
      if (route.kind === 'token') {
        if (!this.options.tokenEndpoint)
          throw new DistributionError('UNSUPPORTED', 'this registry does not issue tokens', undefined, { status: 404 });
        if (req.method !== 'GET') throw methodNotAllowed(req);
        await this.options.tokenEndpoint(req, res, url);
        return;
      }
      if ('name' in route) checkRepositoryName(route.name);
      const decision = await this.options.authorizer.authorize(req, this.accessFor(route, req));
      if (!decision.ok) {
        throw new DistributionError('UNAUTHORIZED', decision.message, undefined, { headers: { 'WWW-Authenticate': decision.challenge } });
      }
      await this.dispatch(route, req, res, url);
    } catch (err) {
      this.fail(req, res, err);
    }
  }

  /** The access a request needs: pull to read, push to write, delete to delete; a mount also pulls from its source. */
  private accessFor(route: Route, req: IncomingMessage): Access[] {
    if (route.kind === 'base' || route.kind === 'token') return [];
    if (route.kind === 'catalog') return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
    const method = req.method ?? 'GET';
    const action = method === 'GET' || method === 'HEAD' ? 'pull' : method === 'DELETE' ? 'delete' : 'push';
    const needed: Access[] = [{ type: 'repository', name: route.name, actions: action === 'push' ? ['pull', 'push'] : [action] }];
    return needed;
  }

  private async dispatch(route: Route, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    switch (route.kind) {
      case 'base':
        if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(req);
        return send(res, 200, {}, method === 'HEAD');
      case 'catalog':
        if (method !== 'GET') throw methodNotAllowed(req);
        return this.catalog(res, url);
      case 'manifest':
        if (method === 'GET' || method === 'HEAD') return this.getManifest(route.name, route.reference, req, res, method === 'HEAD');
        if (method === 'PUT') return this.putManifest(route.name, route.reference, req, res);
        if (method === 'DELETE') return this.deleteManifest(route.name, route.reference, res);
        throw methodNotAllowed(req);
      case 'blob':
        if (method === 'GET' || method === 'HEAD') return this.getBlob(route.name, route.digest, req, res, method === 'HEAD');
        if (method === 'DELETE') return this.deleteBlob(route.name, route.digest, res);
        throw methodNotAllowed(req);
      case 'uploads':
        if (method === 'POST') return this.startUpload(route.name, req, res, url);
        throw methodNotAllowed(req);
      case 'upload':
        if (method === 'PATCH') return this.patchUpload(route.name, route.id, req, res);
        if (method === 'PUT') return this.finishUpload(route.name, route.id, req, res, url);
        if (method === 'GET') return this.uploadStatus(route.name, route.id, res);
        if (method === 'DELETE') return this.cancelUpload(route.name, route.id, res);
        throw methodNotAllowed(req);
      case 'tags':
        if (method !== 'GET') throw methodNotAllowed(req);
        return this.tags(route.name, res, url);
      case 'referrers':
        if (method !== 'GET') throw methodNotAllowed(req);
        return this.referrers(route.name, route.digest, res, url);
    }
  }

  // --- manifests ---

  /**
   * The manifest a GET or HEAD answers with, given what the client accepts, as the
   * reference registry (distribution 3, schema 1 gone) decides: an OCI manifest or index
   * the client does not accept is MANIFEST_UNKNOWN (404) in its words; a Docker manifest
   * list asked by tag by a client that does not accept lists is answered with its
   * linux/amd64 entry (that manifest's own type and digest), MANIFEST_UNKNOWN when it has
   * none, MANIFEST_INVALID when that entry is a schema 2 manifest the client does not
   * accept either (and an OCI entry not accepted is refused as above, where the
   * reference serves it anyway). By digest a list is served as is: a digest names those
   * bytes. A Docker schema 2 manifest is always served (the reference once converted it
   * to schema 1 for old clients; nothing reads schema 1 now).
   */
  private async negotiateManifest(
    name: string,
    reference: string,
    accept: ManifestAccept,
  ): Promise<{ digest: Digest; record: ManifestRecord }> {
    const digest = await this.resolveReference(name, reference);
    const record = await this.storage.getManifest(name, digest);
    if (!record) throw new DistributionError('MANIFEST_UNKNOWN', `manifest unknown: ${name}@${digest.text}`, { digest: digest.text });
    if (accept.accepts(record.mediaType)) return { digest, record };
    refuseUnacceptedOci(record.mediaType);
    if (record.mediaType !== MEDIA_TYPES.dockerManifestList || looksLikeDigest(reference)) return { digest, record };
    const body = await this.storage.readBlob(digest, MAX_MANIFEST_BYTES);
    if (!body) throw new DistributionError('MANIFEST_UNKNOWN', `manifest unknown: ${name}@${digest.text}`, { digest: digest.text });
    const entries = (
      JSON.parse(body.toString('utf8')) as { manifests?: Array<{ digest?: string; platform?: { os?: string; architecture?: string } }> }
    ).manifests;
    const entry = (entries ?? []).find((m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64');
    const chosen = entry?.digest !== undefined ? parseDigest(entry.digest) : undefined;
    if (!chosen) throw new DistributionError('MANIFEST_UNKNOWN', 'manifest unknown', { tag: reference });
    const child = await this.storage.getManifest(name, chosen);
    if (!child) throw new DistributionError('MANIFEST_UNKNOWN', `manifest unknown: ${name}@${chosen.text}`, { digest: chosen.text });
    if (!accept.accepts(child.mediaType)) {
      refuseUnacceptedOci(child.mediaType);
      if (child.mediaType === MEDIA_TYPES.dockerManifest)
        throw new DistributionError('MANIFEST_INVALID', 'Schema 2 manifest not supported by client');
    }
    return { digest: chosen, record: child };
  }

  /** The digest a manifest reference names in `name`: a digest as is, a tag through its pointer. */
  private async resolveReference(name: string, reference: string): Promise<Digest> {
    if (looksLikeDigest(reference)) return requireDigest(reference, 'manifest digest');
    if (!isTag(reference)) throw new DistributionError('MANIFEST_INVALID', `invalid tag: "${reference}"`);
    const digest = await this.storage.getTag(name, reference);
    if (!digest) throw new DistributionError('MANIFEST_UNKNOWN', `manifest unknown: ${name}:${reference}`, { tag: reference });
    return digest;
  }

  private async getManifest(name: string, reference: string, req: IncomingMessage, res: ServerResponse, head: boolean): Promise<void> {
    const { digest, record } = await this.negotiateManifest(name, reference, ManifestAccept.of(req.headers));
    const reader = await this.storage.openBlob(digest);
    if (!reader) throw new DistributionError('MANIFEST_UNKNOWN', `manifest unknown: ${name}@${digest.text}`, { digest: digest.text });
    res.writeHead(200, {
      ...API_VERSION_HEADER,
      'Content-Type': record.mediaType,
      'Content-Length': reader.size,
      'Docker-Content-Digest': digest.text,
      ETag: `"${digest.text}"`,
    });
    if (head) {
      await reader.close();
      res.end();
    } else await pipeline(reader.stream(), res);
  }

  private async putManifest(name: string, reference: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const byDigest = looksLikeDigest(reference) ? requireDigest(reference, 'manifest digest') : undefined;
    if (!byDigest && !isTag(reference)) throw new DistributionError('MANIFEST_INVALID', `invalid tag: "${reference}"`);
    const body = await readSmallBody(req, MAX_MANIFEST_BYTES, 'manifest');
    const digest = digestOf(body, byDigest?.algorithm ?? 'sha256');
    if (byDigest && digest.text !== byDigest.text) {
      throw new DistributionError('DIGEST_INVALID', `manifest digest is ${digest.text}, not ${byDigest.text}`, { digest: byDigest.text });
    }
    const manifest = parseManifest(body, req.headers['content-type']);
    // Claim every blob before committing: a collector running now keeps what the claim
    // reached, and a blob it deleted first fails the claim (RegistryStorage contract, 4.).
    for (const blob of manifest.blobs) {
      if (!(await this.storage.hasBlobLink(name, blob)) || !(await this.storage.claimBlob(blob))) {
        throw new DistributionError('MANIFEST_BLOB_UNKNOWN', `blob unknown to ${name}: ${blob.text}`, { digest: blob.text });
      }
    }
    for (const child of manifest.manifests) {
      if (!(await this.storage.getManifest(name, child)) || !(await this.storage.claimBlob(child))) {
        throw new DistributionError('MANIFEST_BLOB_UNKNOWN', `manifest unknown to ${name}: ${child.text}`, { digest: child.text });
      }
    }
    await this.storage.writeBlob(digest, Readable.from([body]));
    await this.storage.putManifest(name, { digest: digest.text, mediaType: manifest.mediaType, size: body.length });
    if (!byDigest) await this.storage.setTag(name, reference, digest);
    const headers: Headers = { Location: `/v2/${name}/manifests/${digest.text}`, 'Docker-Content-Digest': digest.text };
    if (manifest.subject) {
      await this.storage.addReferrer(name, manifest.subject, {
        mediaType: manifest.mediaType,
        digest: digest.text,
        size: body.length,
        ...(manifest.artifactType !== undefined ? { artifactType: manifest.artifactType } : {}),
        ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
      });
      headers['OCI-Subject'] = manifest.subject.text;
    }
    sendEmpty(res, 201, headers);
  }

  private async deleteManifest(name: string, reference: string, res: ServerResponse): Promise<void> {
    if (!looksLikeDigest(reference)) {
      if (!isTag(reference)) throw new DistributionError('MANIFEST_INVALID', `invalid tag: "${reference}"`);
      if (!(await this.storage.deleteTag(name, reference))) {
        throw new DistributionError('MANIFEST_UNKNOWN', `manifest unknown: ${name}:${reference}`, { tag: reference });
      }
      return sendEmpty(res, 202, {});
    }
    const digest = requireDigest(reference, 'manifest digest');
    const record = await this.storage.getManifest(name, digest);
    if (!record) throw new DistributionError('MANIFEST_UNKNOWN', `manifest unknown: ${name}@${digest.text}`, { digest: digest.text });
    await this.storage.deleteManifest(name, digest);
    // After the manifest: cut short between the two, the entry is left over, and the
    // referrers listing skips entries whose manifest is gone.
    const body = await this.storage.readBlob(digest, MAX_MANIFEST_BYTES);
    if (body) {
      try {
        const subject = parseManifest(body, record.mediaType).subject;
        if (subject) await this.storage.removeReferrer(name, subject, digest);
      } catch {
        // A manifest that no longer parses has no referrer entry to remove.
      }
    }
    sendEmpty(res, 202, {});
  }

  // --- blobs ---

  private async getBlob(name: string, digestText: string, req: IncomingMessage, res: ServerResponse, head: boolean): Promise<void> {
    const digest = requireDigest(digestText);
    const reader = (await this.storage.hasBlobLink(name, digest)) ? await this.storage.openBlob(digest) : undefined;
    if (!reader) throw new DistributionError('BLOB_UNKNOWN', `blob unknown to ${name}: ${digest.text}`, { digest: digest.text });
    const headers: Headers = {
      ...API_VERSION_HEADER,
      'Content-Type': 'application/octet-stream',
      'Docker-Content-Digest': digest.text,
      ETag: `"${digest.text}"`,
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'max-age=31536000',
    };
    const range = head ? undefined : parseRange(req.headers.range, reader.size);
    if (range === 'unsatisfiable') {
      await reader.close();
      throw new DistributionError('RANGE_INVALID', `range ${req.headers.range} is outside the blob's ${reader.size} bytes`, undefined, {
        headers: { 'Content-Range': `bytes */${reader.size}` },
      });
    }
    if (head) {
      res.writeHead(200, { ...headers, 'Content-Length': reader.size });
      await reader.close();
      res.end();
      return;
    }
    if (range) {
      res.writeHead(206, {
        ...headers,
        'Content-Length': range.end - range.start + 1,
        'Content-Range': `bytes ${range.start}-${range.end}/${reader.size}`,
      });
      await reader.writeTo(res, range.start, range.end);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': reader.size });
    await reader.writeTo(res);
    res.end();
  }

  private async deleteBlob(name: string, digestText: string, res: ServerResponse): Promise<void> {
    const digest = requireDigest(digestText);
    if (!(await this.storage.unlinkBlob(name, digest))) {
      throw new DistributionError('BLOB_UNKNOWN', `blob unknown to ${name}: ${digest.text}`, { digest: digest.text });
    }
    sendEmpty(res, 202, { 'Docker-Content-Digest': digest.text });
  }

  // --- uploads ---

  private async startUpload(name: string, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const mount = url.searchParams.get('mount');
    const from = url.searchParams.get('from');
    if (mount !== null && from !== null && isRepositoryName(from)) {
      const digest = requireDigest(mount, 'mount digest');
      // Mounting reads the source repository: it needs pull there, or the upload starts plainly (the spec's fallback).
      const allowed = await this.options.authorizer.authorize(req, [{ type: 'repository', name: from, actions: ['pull'] }]);
      if (allowed.ok && (await this.storage.hasBlobLink(from, digest)) && (await this.storage.claimBlob(digest))) {
        await this.storage.linkBlob(name, digest);
        req.resume();
        return sendEmpty(res, 201, { Location: `/v2/${name}/blobs/${digest.text}`, 'Docker-Content-Digest': digest.text });
      }
    }
    const digestParam = url.searchParams.get('digest');
    if (digestParam !== null) {
      const digest = requireDigest(digestParam);
      await this.storeWhole(name, digest, req);
      return sendEmpty(res, 201, { Location: `/v2/${name}/blobs/${digest.text}`, 'Docker-Content-Digest': digest.text });
    }
    req.resume();
    const session = await this.storage.createUpload(name);
    sendEmpty(res, 202, uploadHeaders(name, session));
  }

  /** A monolithic upload: the body is the blob, hashed as it streams to the storage. */
  private async storeWhole(name: string, digest: Digest, req: IncomingMessage): Promise<void> {
    try {
      await this.storage.writeBlob(digest, req);
    } catch (err) {
      if (err instanceof DigestMismatch) throw new DistributionError('DIGEST_INVALID', err.message, { digest: digest.text });
      throw err;
    }
    await this.storage.linkBlob(name, digest);
  }

  private async session(name: string, id: string): Promise<UploadSession> {
    const session = await this.storage.getUpload(name, id);
    if (!session) throw new DistributionError('BLOB_UPLOAD_UNKNOWN', `blob upload unknown: ${id}`, { uuid: id });
    return session;
  }

  /** Appends the request body to the session, checking its Content-Range against what the session holds. */
  private async append(name: string, session: UploadSession, req: IncomingMessage): Promise<UploadSession> {
    const range = parseContentRange(req.headers['content-range']);
    const length = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
    if (range && length !== undefined && length !== range.end - range.start + 1) {
      throw new DistributionError(
        'BLOB_UPLOAD_INVALID',
        `Content-Range ${range.start}-${range.end} does not match Content-Length ${length}`,
      );
    }
    try {
      return await this.storage.appendUpload(name, session.id, req, range?.start);
    } catch (err) {
      if (err instanceof UploadOffsetMismatch) {
        throw new DistributionError('RANGE_INVALID', err.message, { offset: err.expected }, { headers: uploadHeaders(name, session) });
      }
      if (isBerthError(err, 'NotFound'))
        throw new DistributionError('BLOB_UPLOAD_UNKNOWN', `blob upload unknown: ${session.id}`, { uuid: session.id });
      throw err;
    }
  }

  private async patchUpload(name: string, id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = await this.append(name, await this.session(name, id), req);
    sendEmpty(res, 202, uploadHeaders(name, session));
  }

  private async finishUpload(name: string, id: string, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const digest = requireDigest(url.searchParams.get('digest') ?? undefined);
    let session = await this.session(name, id);
    if (hasBody(req)) session = await this.append(name, session, req);
    else req.resume();
    try {
      await this.storage.completeUpload(name, id, digest);
    } catch (err) {
      if (err instanceof DigestMismatch) throw new DistributionError('DIGEST_INVALID', err.message, { digest: digest.text });
      if (isBerthError(err, 'NotFound')) throw new DistributionError('BLOB_UPLOAD_UNKNOWN', `blob upload unknown: ${id}`, { uuid: id });
      throw err;
    }
    sendEmpty(res, 201, { Location: `/v2/${name}/blobs/${digest.text}`, 'Docker-Content-Digest': digest.text });
  }

  private async uploadStatus(name: string, id: string, res: ServerResponse): Promise<void> {
    sendEmpty(res, 204, uploadHeaders(name, await this.session(name, id)));
  }

  private async cancelUpload(name: string, id: string, res: ServerResponse): Promise<void> {
    if (!(await this.storage.cancelUpload(name, id)))
      throw new DistributionError('BLOB_UPLOAD_UNKNOWN', `blob upload unknown: ${id}`, { uuid: id });
    sendEmpty(res, 204, {});
  }

  // --- listings ---

  private async tags(name: string, res: ServerResponse, url: URL): Promise<void> {
    if (!(await this.storage.repositoryExists(name)))
      throw new DistributionError('NAME_UNKNOWN', `repository name not known to registry: ${name}`, { name });
    const page = paginate(await this.storage.listTags(name), url);
    const headers: Headers = {};
    if (page.next) headers.Link = `</v2/${name}/tags/list?n=${page.n}&last=${encodeURIComponent(page.next)}>; rel="next"`;
    send(res, 200, { name, tags: page.items }, false, headers);
  }

  private async catalog(res: ServerResponse, url: URL): Promise<void> {
    const page = paginate(await this.storage.listRepositories(), url);
    const headers: Headers = {};
    if (page.next) headers.Link = `</v2/_catalog?n=${page.n}&last=${encodeURIComponent(page.next)}>; rel="next"`;
    send(res, 200, { repositories: page.items }, false, headers);
  }

  private async referrers(name: string, digestText: string, res: ServerResponse, url: URL): Promise<void> {
    const subject = requireDigest(digestText, 'subject digest');
    const artifactType = url.searchParams.get('artifactType');
    let manifests: ReferrerDescriptor[] = [];
    for (const m of await this.storage.listReferrers(name, subject)) {
      if (await this.storage.getManifest(name, requireDigest(m.digest))) manifests.push(m);
    }
    const headers: Headers = { 'Content-Type': MEDIA_TYPES.ociIndex };
    if (artifactType !== null) {
      manifests = manifests.filter((m) => m.artifactType === artifactType);
      headers['OCI-Filters-Applied'] = 'artifactType';
    }
    send(res, 200, { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }, false, headers);
  }

  // --- errors ---

  private fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    if (res.headersSent || res.destroyed || req.socket.destroyed) {
      // Mid-stream, or the client went away: no response can be sent any more. A short
      // body fails the client's digest check; an upload keeps what arrived, and the
      // client asks for the session's Range and resumes.
      if (!isDisconnect(err)) this.options.onError?.(err, req);
      res.destroy();
      return;
    }
    let error: DistributionError;
    if (err instanceof DistributionError) error = err;
    else {
      this.options.onError?.(err, req);
      error = new DistributionError('UNKNOWN', `internal error: ${(err as Error)?.message ?? err}`);
    }
    const extra: Headers = { ...error.headers };
    // An unread body (a refused upload) would be read to its end before the next request: close instead.
    if (!req.readableEnded && hasBody(req)) extra.Connection = 'close';
    send(res, error.status, error.body(), req.method === 'HEAD', extra);
  }
}

/** A client that closed its connection: nothing to log. */
function isDisconnect(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}

function methodNotAllowed(req: IncomingMessage): DistributionError {
  return new DistributionError('UNSUPPORTED', `method ${req.method} not allowed here`, undefined, { status: 405 });
}

function uploadHeaders(name: string, session: UploadSession): Headers {
  return {
    Location: `/v2/${name}/blobs/uploads/${session.id}`,
    Range: `0-${Math.max(session.size - 1, 0)}`,
    'Docker-Upload-UUID': session.id,
  };
}

/** `n` and `last` of a listing: the items after `last`, at most `n`, and where the next page starts. */
function paginate(all: string[], url: URL): { items: string[]; n?: number; next?: string } {
  const last = url.searchParams.get('last');
  const nText = url.searchParams.get('n');
  let items = last !== null ? all.filter((x) => x > last) : all;
  if (nText === null) return { items };
  const n = Number(nText);
  if (!/^\d+$/.test(nText) || !Number.isSafeInteger(n)) {
    throw new DistributionError('PAGINATION_NUMBER_INVALID', `invalid page size n=${nText} (want a number of 0 or more)`);
  }
  const more = items.length > n;
  items = items.slice(0, n);
  return more && items.length > 0 ? { items, n, next: items[items.length - 1] } : { items, n };
}

function send(res: ServerResponse, status: number, body: unknown, head: boolean, headers: Headers = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...API_VERSION_HEADER,
    'Content-Type': 'application/json',
    ...headers,
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(head ? undefined : text);
}

function sendEmpty(res: ServerResponse, status: number, headers: Headers): void {
  res.writeHead(status, { ...API_VERSION_HEADER, ...headers, 'Content-Length': 0 });
  res.end();
}

/** An OCI manifest or index the client does not accept: the reference registry's 404, in its words. */
function refuseUnacceptedOci(mediaType: string): void {
  if (mediaType === MEDIA_TYPES.ociManifest)
    throw new DistributionError('MANIFEST_UNKNOWN', 'OCI manifest found, but accept header does not support OCI manifests');
  if (mediaType === MEDIA_TYPES.ociIndex)
    throw new DistributionError('MANIFEST_UNKNOWN', 'OCI index found, but accept header does not support OCI indexes');
}
