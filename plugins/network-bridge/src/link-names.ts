import { InvalidArgument, type NetworkSpec } from '@berth/core';

/** The driver option naming a network's bridge, as Docker's. */
export const bridgeNameOption = 'com.docker.network.bridge.name';
/** The driver option setting the MTU of a network's links, as Docker's. */
export const mtuOption = 'com.docker.network.driver.mtu';

const ifnameMax = 15; // IFNAMSIZ - 1

/** A Linux interface name: 1-15 characters, none of `/`, whitespace, `:`; not `.` or `..`. */
export function checkInterfaceName(name: string, what: string): string {
  if (!name || name.length > ifnameMax || /[/\s:]/.test(name) || name === '.' || name === '..') {
    throw new InvalidArgument(`invalid ${what} "${name}": an interface name has 1-15 characters, without "/", ":" or spaces`);
  }
  return name;
}

/** The bridge of a network: the `com.docker.network.bridge.name` option, else `br-` and 12 hex digits of its id (Docker's). */
export function bridgeName(spec: NetworkSpec): string {
  const chosen = spec.options[bridgeNameOption];
  return chosen !== undefined ? checkInterfaceName(chosen, bridgeNameOption) : `br-${spec.id.slice(0, 12)}`;
}

/**
 * The host side of an endpoint's veth pair: `vb` and 13 hex digits of the endpoint id.
 * Derived from the id, so detach and restore find it after a restart with no state of
 * their own; endpoint ids are random, so two daemons on one host do not collide.
 */
export function hostVethName(endpointId: string): string {
  return `vb${endpointId.slice(0, 13)}`;
}

/** The MTU of a network's links: its option, else the driver's default. */
export function networkMtu(spec: NetworkSpec, fallback: number): number {
  const text = spec.options[mtuOption];
  if (text === undefined || text === '') return fallback;
  const mtu = Number(text);
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new InvalidArgument(`invalid ${mtuOption} "${text}": an MTU is 68-65535`);
  return mtu;
}
