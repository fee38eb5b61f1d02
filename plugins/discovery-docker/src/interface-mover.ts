import { InvalidArgument, runProgram } from '@berth/core';

/** A route a remote driver asks for in its Join answer (`StaticRoutes`). */
export interface StaticRoute {
  /** `a.b.c.d/n`. */
  destination: string;
  /** 0: through `nextHop`; 1: directly connected on the interface. */
  routeType: number;
  nextHop?: string;
}

/** What to do with the interface a remote driver made for a container. */
export interface InterfacePlacement {
  /** The host interface the plugin named (`SrcName`). */
  srcName: string;
  /** The name prefix inside the container (`DstPrefix`): it becomes `<prefix><n>`, the lowest n free. */
  dstPrefix: string;
  /** The container's network namespace (`/proc/<pid>/ns/net`). */
  netnsPath: string;
  /** `a.b.c.d/n` from IPAM, when the network has addresses. */
  address?: string;
  macAddress?: string;
  /** The default route's next hop (`Gateway` of the Join answer). */
  gateway?: string;
  routes: StaticRoute[];
}

const ifnamePattern = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}$/;
const ipv4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const ipv4Cidr = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

/**
 * Moves the interface a remote driver created on the host into a container's namespace
 * and configures it there, as libnetwork's sandbox does after a Join: renamed
 * `<DstPrefix><n>` (n the lowest index not taken in the namespace, so a second network
 * gets eth1), the endpoint's MAC, its address, up, then the static routes (replacing one
 * to the same destination) and the default route through the Join's gateway unless the
 * namespace has one already (the first network keeps it). Four processes: two looks into
 * the namespace (its links, its default route), `ip link set <src> netns <path>`, then one
 * `nsenter --net=<path> ip -batch -` for the rest. Returns the name inside.
 * On failure nothing is left in the container: the interface is deleted (the plugin's
 * Leave then finds its host side gone, which every driver must tolerate).
 */
export async function placeInterface(p: InterfacePlacement): Promise<string> {
  if (!ifnamePattern.test(p.srcName)) throw new InvalidArgument(`the plugin named an invalid interface "${p.srcName}" (SrcName)`);
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,11}$/.test(p.dstPrefix))
    throw new InvalidArgument(`the plugin named an invalid prefix "${p.dstPrefix}" (DstPrefix)`);
  // Everything below goes into one `ip -batch` script: what the plugin sent is checked for shape first.
  for (const route of p.routes) {
    if (!ipv4Cidr.test(route.destination))
      throw new InvalidArgument(`the plugin's static route has an invalid destination "${route.destination}"`);
    if (route.routeType !== 1 && !route.nextHop)
      throw new InvalidArgument(`the plugin's static route to ${route.destination} has no next hop`);
    if (route.nextHop !== undefined && !ipv4.test(route.nextHop))
      throw new InvalidArgument(`the plugin's next hop "${route.nextHop}" is not an IPv4 address`);
  }
  if (p.gateway !== undefined && !ipv4.test(p.gateway))
    throw new InvalidArgument(`the plugin's gateway "${p.gateway}" is not an IPv4 address`);
  if (p.address !== undefined && !ipv4Cidr.test(p.address)) throw new InvalidArgument(`invalid interface address "${p.address}"`);
  if (p.macAddress !== undefined && !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(p.macAddress)) {
    throw new InvalidArgument(`invalid MAC address "${p.macAddress}"`);
  }
  const [links, defaults] = await Promise.all([
    runProgram('nsenter', [`--net=${p.netnsPath}`, 'ip', '-j', 'link', 'show']),
    runProgram('nsenter', [`--net=${p.netnsPath}`, 'ip', '-j', 'route', 'show', 'default']),
  ]);
  const taken = new Set((JSON.parse(links || '[]') as Array<{ ifname: string }>).map((l) => l.ifname));
  // The first network with a gateway keeps the default route, as libnetwork keeps one gateway endpoint per sandbox.
  const hasDefault = (JSON.parse(defaults || '[]') as unknown[]).length > 0;
  let index = 0;
  while (taken.has(`${p.dstPrefix}${index}`)) index++;
  const name = `${p.dstPrefix}${index}`;
  await runProgram('ip', ['link', 'set', 'dev', p.srcName, 'netns', p.netnsPath]);
  const commands = [`link set dev ${p.srcName} name ${name}`];
  if (p.macAddress) commands.push(`link set dev ${name} address ${p.macAddress}`);
  if (p.address) commands.push(`addr add ${p.address} dev ${name}`);
  commands.push(`link set dev ${name} up`);
  for (const route of p.routes) {
    if (route.routeType === 1) commands.push(`route replace ${route.destination} dev ${name}`);
    else commands.push(`route replace ${route.destination} via ${route.nextHop} dev ${name}`);
  }
  if (p.gateway && !hasDefault) commands.push(`route add default via ${p.gateway} dev ${name}`);
  try {
    await runProgram('nsenter', [`--net=${p.netnsPath}`, 'ip', '-batch', '-'], `${commands.join('\n')}\n`);
  } catch (err) {
    // Under either name, depending on how far the batch went.
    for (const n of [name, p.srcName]) await runProgram('nsenter', [`--net=${p.netnsPath}`, 'ip', 'link', 'del', n]).catch(() => {});
    throw err;
  }
  return name;
}
