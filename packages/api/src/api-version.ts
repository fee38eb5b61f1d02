/** The API version berth speaks: the one dockerd 20.10 speaks, so CLI 28 negotiates down to it. */
export const API_VERSION = '1.41';
/** The oldest version a client may ask for in a `/v1.N/` prefix (dockerd 20.10's minimum). */
export const MIN_API_VERSION = '1.12';

/** Compares dotted versions numerically: `1.9` < `1.12`. */
export function compareApiVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  const n = Math.max(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = Number(pa[i] ?? 0);
    const y = Number(pb[i] ?? 0);
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** A path with its `/v1.N` prefix taken off, or the reason the version is refused. */
export type VersionedPath =
  | { ok: true; path: string; version: string }
  | { ok: false; status: 400; contentType: 'application/json' | 'text/plain'; message: string };

const prefix = /^\/v([0-9][0-9.]*)(\/.*)?$/;

/**
 * Splits `/v1.41/containers/json` into the version and the route. An unversioned path
 * means "the daemon's own version". Versions above ours get dockerd's JSON 400; versions
 * below the minimum get its text/plain 400 (both messages are what clients print).
 */
export function splitVersionPrefix(pathname: string): VersionedPath {
  if (pathname.charCodeAt(1) !== 118 /* v */) return { ok: true, path: pathname, version: API_VERSION };
  const m = prefix.exec(pathname);
  if (!m) return { ok: true, path: pathname, version: API_VERSION };
  const version = m[1]!;
  const path = m[2] ?? '/';
  if (compareApiVersions(version, API_VERSION) > 0) {
    return {
      ok: false,
      status: 400,
      contentType: 'application/json',
      message: `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`,
    };
  }
  if (compareApiVersions(version, MIN_API_VERSION) < 0) {
    return {
      ok: false,
      status: 400,
      contentType: 'text/plain',
      message: `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    };
  }
  return { ok: true, path, version };
}
