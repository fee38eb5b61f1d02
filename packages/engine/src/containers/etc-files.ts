import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Host paths of the files bind-mounted over a container's /etc/hostname, /etc/hosts and /etc/resolv.conf. */
export interface EtcFiles {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

const defaultHosts = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/**
 * Write a container's hostname, hosts and resolv.conf into its directory, as Docker
 * does: with the host's network the host's own files, otherwise a private hostname, a
 * hosts file naming it, and the host's resolv.conf without loopback name servers
 * (unreachable from a private namespace).
 */
export async function writeEtcFiles(dir: string, hostname: string, hostNetwork: boolean): Promise<EtcFiles> {
  const files: EtcFiles = {
    hostname: path.join(dir, 'hostname'),
    hosts: path.join(dir, 'hosts'),
    resolvConf: path.join(dir, 'resolv.conf'),
  };
  const hostResolv = await fs.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  if (hostNetwork) {
    const hosts = await fs.readFile('/etc/hosts', 'utf8').catch(() => `${defaultHosts.join('\n')}\n`);
    await Promise.all([
      fs.writeFile(files.hostname, `${os.hostname()}\n`),
      fs.writeFile(files.hosts, hosts),
      fs.writeFile(files.resolvConf, hostResolv),
    ]);
    return files;
  }
  await Promise.all([
    fs.writeFile(files.hostname, `${hostname}\n`),
    fs.writeFile(files.hosts, `${defaultHosts.join('\n')}\n`),
    fs.writeFile(files.resolvConf, privateResolvConf(hostResolv)),
  ]);
  return files;
}

/** The host's resolv.conf without loopback name servers; Docker's public fallbacks when none is left. */
export function privateResolvConf(host: string): string {
  const lines = host
    .replace(/\n+$/, '')
    .split('\n')
    .filter((line) => {
      const m = /^\s*nameserver\s+(\S+)/.exec(line);
      return !m || !(m[1].startsWith('127.') || m[1] === '::1');
    });
  if (!lines.some((l) => /^\s*nameserver\s/.test(l))) lines.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  return `${lines.join('\n')}\n`;
}
