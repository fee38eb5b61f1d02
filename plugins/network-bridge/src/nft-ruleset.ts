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

/**
 * The whole of berth's nftables table (`ip <table>`) for these networks, as one `nft -f`
 * script. The script declares the table, deletes it and declares it again with every
 * rule, so one transaction replaces whatever the table held: a reader never sees half a
 * rule set, and a crash before the script ran leaves the previous one. Nothing outside
 * the table is named, so other tables (Docker's, the host's, another berthd's) stay as
 * they are. With no network the script only deletes the table.
 *
 * Rules, in Docker's spirit:
 * - forward: traffic into a bridge from anywhere else passes only when it answers a
 *   connection made from inside (so networks are isolated from each other, and nothing
 *   from outside reaches a container: published ports will add their own accepts here);
 *   an internal network forwards nothing out either.
 * - postrouting: what leaves a non-internal network's subnet through another interface is
 *   masqueraded to the host's address on that interface.
 */
export function renderRuleset(table: string, networks: FirewalledNetwork[]): string {
  const head = `table ip ${table} {}\ndelete table ip ${table}\n`;
  if (networks.length === 0) return head;
  const forward: string[] = [];
  const nat: string[] = [];
  for (const n of networks) {
    const br = JSON.stringify(n.bridge);
    if (n.internal) {
      forward.push(`iifname ${br} oifname != ${br} drop`, `oifname ${br} iifname != ${br} drop`);
      continue;
    }
    forward.push(`oifname ${br} iifname != ${br} ct state established,related accept`, `oifname ${br} iifname != ${br} drop`);
    nat.push(`ip saddr ${n.subnet} oifname != ${br} masquerade`);
  }
  const chain = (name: string, hook: string, rules: string[]) =>
    `  chain ${name} {\n    ${hook}\n${rules.map((r) => `    ${r}\n`).join('')}  }\n`;
  return (
    head +
    `table ip ${table} {\n` +
    chain('forward', 'type filter hook forward priority filter; policy accept;', forward) +
    chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', nat) +
    '}\n'
  );
}
