import { isIP } from 'node:net';
import { InvalidArgument } from '@berth/core';
import { defaultDomain } from '../reference.js';

/** How berthd reaches registries (daemon.json `insecure-registries`, `registry-mirrors`). */
export interface RegistryHostsConfig {
  /**
   * Registries that may be reached over plain HTTP (and whose TLS certificate is not
   * checked): `host[:port]` or an IPv4 CIDR (`10.0.0.0/8`). Loopback is always one.
   */
  insecureRegistries?: string[];
  /** Mirrors of Docker Hub tried in order before it for pulls: `https://mirror.example`. */
  mirrors?: string[];
}

/**
 * One place to send a repository's requests: a base URL per scheme to try, in order
 * (`https` first; `http` after it only for a registry allowed plain HTTP, as dockerd
 * probes TLS and falls back). `mirror` says it is a Docker Hub mirror (pull only).
 */
export interface RegistryEndpoint {
  /** `host[:port]` as in URLs. */
  host: string;
  /** Base URLs to try in order, without a trailing slash: `https://127.0.0.1:5000`, `http://127.0.0.1:5000`. */
  urls: string[];
  /** Whether a TLS certificate is checked (false for insecure registries). */
  verifyTls: boolean;
  mirror: boolean;
}

/** The host Docker Hub's registry API answers on (`docker.io` is only its name in references). */
export const dockerHubRegistryHost = 'registry-1.docker.io';

/**
 * Where to send the requests for a registry `domain` (a reference's domain): for
 * `docker.io`, the mirrors first when pulling, then Docker Hub's API host; for others
 * the domain itself. Plain HTTP only for loopback and insecure registries.
 */
export function registryEndpoints(domain: string, config: RegistryHostsConfig, purpose: 'pull' | 'push'): RegistryEndpoint[] {
  const out: RegistryEndpoint[] = [];
  if (domain === defaultDomain) {
    if (purpose === 'pull') for (const mirror of config.mirrors ?? []) out.push(mirrorEndpoint(mirror, config));
    out.push(endpointFor(dockerHubRegistryHost, config));
  } else {
    out.push(endpointFor(domain, config));
  }
  return out;
}

/** The endpoint of one `host[:port]`. */
export function endpointFor(host: string, config: RegistryHostsConfig): RegistryEndpoint {
  const insecure = isInsecureRegistry(host, config.insecureRegistries ?? []);
  return {
    host,
    urls: insecure ? [`https://${host}`, `http://${host}`] : [`https://${host}`],
    verifyTls: !insecure,
    mirror: false,
  };
}

function mirrorEndpoint(mirror: string, config: RegistryHostsConfig): RegistryEndpoint {
  let url: URL;
  try {
    url = new URL(mirror);
  } catch {
    throw new InvalidArgument(`invalid registry mirror: ${JSON.stringify(mirror)} (expected a URL such as https://mirror.example)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgument(`invalid registry mirror: ${JSON.stringify(mirror)} (only http and https are supported)`);
  }
  const base = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  return { host: url.host, urls: [base], verifyTls: !isInsecureRegistry(url.host, config.insecureRegistries ?? []), mirror: true };
}

/**
 * Whether `host[:port]` may be reached over plain HTTP: a loopback address
 * (`localhost`, 127.0.0.0/8, `::1`), or listed in `insecure` by name (with or without
 * its port) or by an IPv4 CIDR containing it.
 */
export function isInsecureRegistry(host: string, insecure: string[]): boolean {
  const name = hostName(host);
  if (isLoopback(name)) return true;
  for (const entry of insecure) {
    if (entry === host || entry === name) return true;
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(entry);
    if (cidr && isIP(name) === 4 && inCidr(name, cidr[1]!, Number(cidr[2]))) return true;
  }
  return false;
}

/** The host of `host[:port]` (`[::1]:5000` → `::1`). */
export function hostName(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return colon >= 0 && host.indexOf(':') === colon ? host.slice(0, colon) : host;
}

/** `localhost`, 127.0.0.0/8 or `::1`. */
export function isLoopback(name: string): boolean {
  if (name === 'localhost' || name === '::1') return true;
  return isIP(name) === 4 && name.startsWith('127.');
}

function inCidr(ip: string, base: string, bits: number): boolean {
  if (bits < 0 || bits > 32) return false;
  const toInt = (a: string) => a.split('.').reduce((n, octet) => (n << 8) + Number(octet), 0) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (toInt(ip) & mask) === (toInt(base) & mask);
}
