import { Readable } from 'node:stream';
import { InvalidArgument, NotFound, SystemError } from '@berth/core';

/** How long a download may wait for the server's answer before it fails. */
const connectTimeoutMs = 30_000;

/**
 * The URL `docker import` names (`fromSrc`), as dockerd reads it: `-` is not one; a
 * name without a scheme is taken as `http://<name>`; only http and https are fetched.
 */
export function importUrl(source: string): URL {
  const withScheme = source.includes('://') ? source : `http://${source}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InvalidArgument(`invalid import source ${JSON.stringify(source)}: not "-" nor a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgument(`invalid import source ${JSON.stringify(source)}: only http and https URLs can be imported`);
  }
  return url;
}

/**
 * Start downloading the tarball at `url` and return its body as a stream, once the
 * server answered 2xx. A 404 is a NotFound, any other status or a connection that
 * fails an error naming the URL; nothing is stored by then. The body streams into the
 * import as it arrives (never held whole); the caller's consumption paces it.
 */
export async function downloadTarball(url: URL): Promise<Readable> {
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(connectTimeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new SystemError(`error downloading ${url.href}: ${cause}`, { cause: err });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel().catch(() => {});
    const status = `${response.status} ${response.statusText}`.trim();
    if (response.status === 404) throw new NotFound(`error downloading ${url.href}: ${status}`);
    throw new SystemError(`error downloading ${url.href}: ${status}`);
  }
  return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
}
