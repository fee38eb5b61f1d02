import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { rootCertificates } from 'node:tls';
import { InvalidArgument } from '@berth/core';

/** The TLS material a registry's certificate directory adds to a connection. */
export interface RegistryTls {
  /** Trusted roots: Node's bundled ones plus the directory's `*.crt` (PEM). */
  ca: string[];
  /** Client certificates (`*.cert`, PEM), each with its key at the same index. */
  certs: string[];
  keys: string[];
}

/**
 * Reads a registry's certificate directory as dockerd reads `/etc/docker/certs.d/<host:port>/`:
 * every `*.crt` is a CA trusted in addition to the system's roots, every `*.cert` a client
 * certificate whose key is the `*.key` of the same name. A certificate without its key or
 * a key without its certificate is InvalidArgument naming the file. A directory that does
 * not exist is undefined (nothing added); files are read on each call, so a CA dropped
 * in applies to the next pull without a restart, as in dockerd.
 */
export async function readCertsDirectory(dir: string): Promise<RegistryTls | undefined> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
  const extra: string[] = [];
  const certs: string[] = [];
  const keys: string[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    if (name.endsWith('.crt')) extra.push(await fs.readFile(file, 'utf8'));
    else if (name.endsWith('.cert')) {
      const keyName = `${name.slice(0, -'.cert'.length)}.key`;
      if (!names.includes(keyName)) throw new InvalidArgument(`missing key ${keyName} for client certificate ${file}`);
      certs.push(await fs.readFile(file, 'utf8'));
      keys.push(await fs.readFile(path.join(dir, keyName), 'utf8'));
    } else if (name.endsWith('.key')) {
      const certName = `${name.slice(0, -'.key'.length)}.cert`;
      if (!names.includes(certName)) throw new InvalidArgument(`missing client certificate ${certName} for key ${file}`);
    }
  }
  if (!extra.length && !certs.length) return undefined;
  return { ca: [...rootCertificates, ...extra], certs, keys };
}

/** The directory of one registry under a certificates root: `<root>/<host:port>` (IPv6 brackets kept, as dockerd names them). */
export function certsDirectoryOf(root: string, host: string): string {
  if (host.includes('/') || host === '.' || host === '..') throw new InvalidArgument(`invalid registry host ${JSON.stringify(host)}`);
  return path.join(root, host);
}
