import { InvalidArgument } from '@berth/core';

/** What `fetchUrl` answers: the body as a stream and the headers a build uses. */
export interface FetchedUrl {
  body: AsyncIterable<Uint8Array>;
  /** `Last-Modified`, when the server sent a valid one (ADD gives the file that mtime). */
  lastModified: Date | undefined;
  contentType: string | undefined;
  /** The URL after redirects. */
  url: string;
}

/** No byte for this long fails the download, so a stalled server cannot hold a build. */
const idleTimeoutMs = 60_000;

/**
 * GET `url` (http or https only; redirects followed) for a URL context or an ADD source.
 * A status other than 2xx, or a failed connection, is an InvalidArgument naming the URL
 * and the problem. `signal` aborts the download (a client that went away).
 */
export async function fetchUrl(url: string, signal?: AbortSignal): Promise<FetchedUrl> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgument(`invalid URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InvalidArgument(`unsupported URL scheme: ${url}`);
  const idle = new AbortController();
  // Unref'd: an abandoned download must not hold the process open for a minute.
  let timer = setTimeout(() => idle.abort(), idleTimeoutMs).unref();
  const combined = signal ? AbortSignal.any([signal, idle.signal]) : idle.signal;
  let response: Response;
  try {
    response = await fetch(parsed, { redirect: 'follow', signal: combined });
  } catch (err) {
    clearTimeout(timer);
    throw new InvalidArgument(`error downloading ${url}: ${(err as Error).message}`, { cause: err });
  }
  if (!response.ok || response.body === null) {
    clearTimeout(timer);
    await response.body?.cancel();
    throw new InvalidArgument(`error downloading ${url}: status ${response.status} ${response.statusText}`.trim());
  }
  const stream = response.body;
  async function* body(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of stream) {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), idleTimeoutMs).unref();
        yield chunk;
      }
    } catch (err) {
      throw new InvalidArgument(`error downloading ${url}: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
  const lastModifiedHeader = response.headers.get('last-modified');
  const lastModified = lastModifiedHeader ? new Date(lastModifiedHeader) : undefined;
  return {
    body: body(),
    lastModified: lastModified && !Number.isNaN(lastModified.getTime()) ? lastModified : undefined,
    contentType: response.headers.get('content-type') ?? undefined,
    url: response.url || url,
  };
}
