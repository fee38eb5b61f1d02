import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument, NotImplemented } from '@berth/core';

/**
 * Where Docker looks for plugins, then berth's own directories (for a plugin meant for
 * berth alone): sockets first, then spec files, in this order.
 */
export const defaultSocketDirs: readonly string[] = Object.freeze(['/run/docker/plugins', '/run/berth/plugins']);
export const defaultSpecDirs: readonly string[] = Object.freeze(['/etc/docker/plugins', '/usr/lib/docker/plugins', '/etc/berth/plugins']);

/** The directories a locator searches (plugin-config `discovery/docker`: `socketDirs`, `specDirs`). */
export interface PluginDirs {
  socketDirs: readonly string[];
  specDirs: readonly string[];
}

/** A plugin's address: a UNIX socket, or a host and port (a `tcp://` spec), and the file that named it. */
export type PluginAddress =
  | { kind: 'unix'; socketPath: string; foundIn: string }
  | { kind: 'tcp'; host: string; port: number; foundIn: string };

/** `unix:///run/x.sock` or `tcp://host:port` as written in a spec file or socket path. */
export function formatAddress(address: PluginAddress): string {
  return address.kind === 'unix' ? `unix://${address.socketPath}` : `tcp://${address.host}:${address.port}`;
}

/** Docker plugin names: what may safely become a file name in the directories searched. */
const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Finds a plugin by name as dockerd's legacy plugin discovery does, without caching (a
 * plugin may start, stop or move at any time):
 * 1. a socket `<socketDir>/<name>.sock` or `<socketDir>/<name>/<name>.sock`;
 * 2. a spec file `<specDir>/<name>.spec` holding one URL (`unix:///path` or `tcp://host:port`),
 *    or `<specDir>/<name>.json` (`{"Name": ..., "Addr": <URL>, "TLSConfig": ...}`).
 * A spec that asks for TLS is refused (berth speaks plain HTTP to plugins); a malformed
 * spec is an error naming the file. Nothing found is `undefined`.
 */
export async function locatePlugin(name: string, dirs: PluginDirs): Promise<PluginAddress | undefined> {
  if (!namePattern.test(name)) return undefined;
  for (const dir of dirs.socketDirs) {
    for (const candidate of [path.join(dir, `${name}.sock`), path.join(dir, name, `${name}.sock`)]) {
      const stat = await fs.stat(candidate).catch(() => undefined);
      if (stat?.isSocket()) return { kind: 'unix', socketPath: candidate, foundIn: candidate };
    }
  }
  for (const dir of dirs.specDirs) {
    const spec = path.join(dir, `${name}.spec`);
    const text = await fs.readFile(spec, 'utf8').catch(() => undefined);
    if (text !== undefined) return parseUrl(text.trim(), spec);
    const json = path.join(dir, `${name}.json`);
    const body = await fs.readFile(json, 'utf8').catch(() => undefined);
    if (body !== undefined) {
      let parsed: { Name?: unknown; Addr?: unknown; TLSConfig?: { InsecureSkipVerify?: boolean; CAFile?: string } | null };
      try {
        parsed = JSON.parse(body);
      } catch (err) {
        throw new InvalidArgument(`plugin spec ${json}: ${(err as Error).message}`);
      }
      if (typeof parsed.Addr !== 'string') throw new InvalidArgument(`plugin spec ${json}: "Addr" must be a URL`);
      if (parsed.TLSConfig && (parsed.TLSConfig.CAFile || parsed.TLSConfig.InsecureSkipVerify === false)) {
        throw new NotImplemented(`plugin spec ${json}: TLS to plugins is not supported by berth`);
      }
      return parseUrl(parsed.Addr, json);
    }
  }
  return undefined;
}

function parseUrl(text: string, file: string): PluginAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgument(`plugin spec ${file}: "${text}" is not a URL (unix:///path or tcp://host:port)`);
  }
  if (url.protocol === 'unix:') {
    if (!url.pathname) throw new InvalidArgument(`plugin spec ${file}: "${text}" names no socket`);
    return { kind: 'unix', socketPath: decodeURIComponent(url.pathname), foundIn: file };
  }
  if (url.protocol === 'tcp:' || url.protocol === 'http:') {
    const port = Number(url.port);
    if (!url.hostname || !Number.isInteger(port) || port <= 0)
      throw new InvalidArgument(`plugin spec ${file}: "${text}" needs a host and port`);
    return { kind: 'tcp', host: url.hostname.replace(/^\[|\]$/g, ''), port, foundIn: file };
  }
  throw new InvalidArgument(`plugin spec ${file}: unsupported scheme ${url.protocol} (unix or tcp)`);
}
