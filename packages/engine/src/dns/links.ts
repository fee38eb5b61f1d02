import { type ContainerCreateBody, InvalidArgument } from '@berth/core';

/** A `--link`: the container linked to (by name) and the alias the linking container knows it by. */
export interface ContainerLink {
  target: string;
  alias: string;
}

/**
 * HostConfig.Links in either form: as a client sends it (`other` or `other:alias`) or
 * as dockerd stores and shows it (`/other:/me/alias`). Without an alias the alias is the
 * name. InvalidArgument names a malformed entry.
 */
export function parseLinks(links: readonly string[] | null | undefined): ContainerLink[] {
  return (links ?? []).map((entry) => {
    const parts = entry.split(':');
    if (parts.length > 2 || parts[0] === '' || parts[1] === '') throw new InvalidArgument(`invalid link "${entry}": expected name:alias`);
    const target = parts[0]!.replace(/^\//, '');
    const aliasPart = parts[1] ?? target;
    // The stored form `/me/alias` keeps only the last component.
    const alias = aliasPart.startsWith('/') ? aliasPart.slice(aliasPart.lastIndexOf('/') + 1) : aliasPart;
    if (target === '' || alias === '' || target.includes('/')) throw new InvalidArgument(`invalid link "${entry}": expected name:alias`);
    return { target, alias };
  });
}

/** Links in dockerd's stored form, `/target:/name/alias`, as inspect shows HostConfig.Links. */
export function storedLinks(links: readonly ContainerLink[], name: string): string[] {
  return links.map((l) => `/${l.target}:/${name}/${l.alias}`);
}

/**
 * The links a create asks for: HostConfig.Links (`--link`) and the endpoint's Links (newer
 * clients repeat them there), each target checked to exist, as dockerd does at create
 * (a 400: a 404 would make the docker CLI try to pull the image). Links on the host's
 * network are refused, as in Docker.
 */
export function requestedLinks(body: ContainerCreateBody, hostNetwork: boolean, exists: (target: string) => boolean): ContainerLink[] {
  const raw = [...(body.HostConfig?.Links ?? [])];
  for (const settings of Object.values(body.NetworkingConfig?.EndpointsConfig ?? {})) raw.push(...(settings?.Links ?? []));
  const links: ContainerLink[] = [];
  for (const link of parseLinks(raw)) {
    if (links.some((l) => l.alias === link.alias && l.target === link.target)) continue;
    if (!exists(link.target)) throw new InvalidArgument(`could not get container for ${link.target}: No such container: ${link.target}`);
    links.push(link);
  }
  if (links.length > 0 && hostNetwork) throw new InvalidArgument("conflicting options: host type networking can't be used with links");
  return links;
}
