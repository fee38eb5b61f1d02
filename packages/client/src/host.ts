/** Where berthd listens when nothing else is said. */
export const DEFAULT_SOCKET_PATH = '/run/berth/berth.sock';

/**
 * The daemon's UNIX socket path from a host spec: an explicit `unix:///path` (or a bare
 * absolute path), else `BERTH_HOST`, else `DOCKER_HOST`, else the default socket. Only
 * UNIX sockets are spoken; a `tcp://` or `ssh://` host is refused with a clear message
 * rather than silently ignored.
 */
export function resolveSocketPath(host?: string, env: Record<string, string | undefined> = process.env): string {
  const spec = host || env.BERTH_HOST || env.DOCKER_HOST;
  if (!spec) return DEFAULT_SOCKET_PATH;
  if (spec.startsWith('unix://')) {
    const path = spec.slice('unix://'.length);
    if (!path.startsWith('/')) throw new Error(`invalid host "${spec}": a unix socket path must be absolute (unix:///path)`);
    return path;
  }
  if (spec.startsWith('/')) return spec;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec)?.[1];
  if (scheme) throw new Error(`unsupported host "${spec}": berth speaks to its daemon over unix:// sockets only`);
  throw new Error(`invalid host "${spec}": expected unix:///path/to/socket`);
}

/** The `unix://` URL of a socket path, as messages show it. */
export function hostUrl(socketPath: string): string {
  return `unix://${socketPath}`;
}
