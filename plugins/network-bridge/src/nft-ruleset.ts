import { acceptChain, acceptRule, bridgeRules, dnatChain, dnatRule, type ForwardedPort, jumpRules } from './port-rules.js';

/** One network as the firewall sees it. */
export interface FirewalledNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
}

/** A table name nft accepts and berth may own: letters, digits, `_` and `-`, starting with a letter. */
export function checkTableName(name: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(name)) {
    throw new Error(`invalid nftables table name "${name}": letters, digits, "_" and "-", starting with a letter`);
  }
  return name;
}

/** The table's chains, with the hook of each base chain (regular chains have none). */
const chains: Array<[name: string, hook: string | undefined]> = [
  ['guard', 'type filter hook prerouting priority raw; policy accept;'],
  ['prerouting', 'type nat hook prerouting priority dstnat; policy accept;'],
  // nft names no `dstnat` priority for the output hook: -100 is its value.
  ['output', 'type nat hook output priority -100; policy accept;'],
  ['forward', 'type filter hook forward priority filter; policy accept;'],
  ['postrouting', 'type nat hook postrouting priority srcnat; policy accept;'],
  [dnatChain, undefined],
  [acceptChain, undefined],
];

/**
 * The whole of berth's nftables table (`ip <table>`) for these networks and published
 * ports, as one `nft -f` script: one transaction, so a reader never sees half a rule set
 * and a crash before the script ran leaves the previous one. Nothing outside the table is
 * named, so other tables (Docker's, the host's, another berthd's) stay as they are. With
 * no network the script only deletes the table.
 *
 * With `ports` the script declares the table, deletes it and declares it again with
 * every rule: whatever the table held is replaced. Without `ports` (a daemon starting,
 * before its driver was told which endpoints still run) the chains of published ports
 * are left as the kernel has them and only the other chains are flushed and refilled, so
 * containers stay reachable on their ports while berthd starts.
 *
 * Rules, in Docker's spirit:
 * - forward: published ports first (`published_forward`, port-rules.ts); then traffic
 *   into a bridge from anywhere else passes only when it answers a connection made from
 *   inside (so networks are isolated from each other and nothing from outside reaches a
 *   container); an internal network forwards nothing out either.
 * - prerouting/output: new connections to a local address go through `published`, the
 *   DNAT of every published port (port-rules.ts).
 * - postrouting: what leaves a non-internal network's subnet through another interface is
 *   masqueraded to the host's address on that interface; plus each bridge's localhost and
 *   hairpin masquerades, and its guard against 127.0.0.0/8 (port-rules.ts).
 */
export function renderRuleset(table: string, networks: FirewalledNetwork[], ports?: ForwardedPort[]): string {
  const head = `table ip ${table} {}\ndelete table ip ${table}\n`;
  if (networks.length === 0) return head;
  const rules: Record<string, string[]> = Object.fromEntries(chains.map(([name]) => [name, []]));
  const jumps = jumpRules();
  rules.prerouting!.push(...jumps.prerouting);
  rules.output!.push(...jumps.output);
  rules.forward!.push(`jump ${acceptChain}`);
  for (const n of networks) {
    const br = JSON.stringify(n.bridge);
    rules.guard!.push(...bridgeRules(n.bridge, n.subnet).guard);
    if (n.internal) {
      rules.forward!.push(`iifname ${br} oifname != ${br} drop`, `oifname ${br} iifname != ${br} drop`);
      continue;
    }
    rules.forward!.push(`oifname ${br} iifname != ${br} ct state established,related accept`, `oifname ${br} iifname != ${br} drop`);
    rules.postrouting!.push(`ip saddr ${n.subnet} oifname != ${br} masquerade`, ...bridgeRules(n.bridge, n.subnet).postrouting);
  }
  for (const port of ports ?? []) {
    rules[dnatChain]!.push(dnatRule(port));
    // Two host ports to one container port need one accept.
    const accept = acceptRule(port);
    if (!rules[acceptChain]!.includes(accept)) rules[acceptChain]!.push(accept);
  }
  const chain = (name: string, lines: string[]) => `  chain ${name} {\n${lines.map((r) => `    ${r}\n`).join('')}  }\n`;
  const declared = chains.map(([name, hook]) => chain(name, hook ? [hook] : []));
  const filled = chains.map(([name, hook]) => chain(name, [...(hook ? [hook] : []), ...rules[name]!]));
  if (ports) return `${head}table ip ${table} {\n${filled.join('')}}\n`;
  // Declaring a chain that exists is a no-op, so the flushes below always find their chains.
  const kept = new Set([dnatChain, acceptChain]);
  const flushed = chains.filter(([name]) => !kept.has(name));
  return (
    `table ip ${table} {\n${declared.join('')}}\n` +
    flushed.map(([name]) => `flush chain ip ${table} ${name}\n`).join('') +
    `table ip ${table} {\n${flushed.map(([name]) => chain(name, rules[name]!)).join('')}}\n`
  );
}
