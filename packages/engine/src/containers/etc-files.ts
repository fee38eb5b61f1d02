import { promises as fs } from 'node:fs';
import { isIP } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidArgument } from '@berth/core';

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

/** What a create asks of a container's /etc files: `--add-host`, `--dns`, `--dns-search`, `--dns-option`. */
export interface EtcRequest {
  /** `name:address` entries; `host-gateway` as the address is the default bridge's gateway. */
  extraHosts?: string[] | null;
  dns?: string[] | null;
  dnsSearch?: string[] | null;
  dnsOptions?: string[] | null;
  /** The address `host-gateway` stands for (the default bridge's gateway); without it that entry is refused. */
  hostGateway?: string;
}

/**
 * The `--add-host` entries as hosts-file lines (`address\tname`), Docker's order;
 * InvalidArgument naming a malformed one.
 */
export function extraHostLines(extraHosts: string[] | null | undefined, hostGateway: string | undefined): string[] {
  return (extraHosts ?? []).map((entry) => {
    const at = entry.indexOf(':');
    const name = entry.slice(0, at);
    let address = entry.slice(at + 1);
    if (at <= 0 || address === '') throw new InvalidArgument(`invalid extra host "${entry}": expected name:address`);
    if (address === 'host-gateway') {
      if (!hostGateway) throw new InvalidArgument(`invalid extra host "${entry}": host-gateway needs the default bridge network`);
      address = hostGateway;
    }
    if (!isIP(address)) throw new InvalidArgument(`invalid IP address in add-host: "${address}"`);
    return `${address}\t${name}`;
  });
}

/** A hosts file: localhost and friends, the `--add-host` lines, then the container's own addresses and names once it has them. */
export function hostsFile(extra: string[], ...own: Array<{ address: string; names: string[] }>): string {
  const lines = [...defaultHosts, ...extra];
  for (const entry of own) lines.push(`${entry.address}\t${entry.names.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Rewrite a container's hosts file once its address exists (after the network attach,
 * before its process starts). In place, not by rename: the file is bind-mounted into the
 * container by inode.
 */
export async function writeHostsInPlace(file: string, content: string): Promise<void> {
  await fs.writeFile(file, content);
}

/**
 * Write a container's hostname, hosts and resolv.conf into its directory, as Docker
 * does: with the host's network the host's own files, otherwise a private hostname, a
 * hosts file naming it (its address is added at start, once attached), and the host's
 * resolv.conf without loopback name servers (unreachable from a private namespace), its
 * name servers, search domains and options replaced by those the create asks for.
 */
export async function writeEtcFiles(dir: string, hostname: string, hostNetwork: boolean, request: EtcRequest = {}): Promise<EtcFiles> {
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
    fs.writeFile(files.hosts, hostsFile(extraHostLines(request.extraHosts, request.hostGateway))),
    fs.writeFile(files.resolvConf, withResolvRequest(privateResolvConf(hostResolv), request)),
  ]);
  return files;
}

/** A resolv.conf with its name servers, search domains or options replaced by those asked for (`--dns`, `--dns-search`, `--dns-option`). */
export function withResolvRequest(resolv: string, request: EtcRequest): string {
  let lines = resolv.replace(/\n+$/, '').split('\n');
  const replace = (keys: RegExp, added: string[]) => {
    lines = lines.filter((l) => !keys.test(l)).concat(added);
  };
  if (request.dns?.length) {
    for (const ns of request.dns) if (!isIP(ns)) throw new InvalidArgument(`invalid DNS server address "${ns}"`);
    replace(
      /^\s*nameserver\s/,
      request.dns.map((ns) => `nameserver ${ns}`),
    );
  }
  if (request.dnsSearch?.length)
    replace(/^\s*(search|domain)\s/, request.dnsSearch.includes('.') ? [] : [`search ${request.dnsSearch.join(' ')}`]);
  if (request.dnsOptions?.length) replace(/^\s*options\s/, [`options ${request.dnsOptions.join(' ')}`]);
  return `${lines.filter((l) => l !== '').join('\n')}\n`;
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
