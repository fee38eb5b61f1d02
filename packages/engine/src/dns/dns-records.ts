/**
 * The embedded DNS server's input: what berthd writes to `<exec-root>/dns/records.json`
 * (atomically: a temporary file renamed over it) and the resolver process reads at its
 * start and on each `reload`. It is the whole truth the resolver answers from, so a
 * resolver started afresh (after a crash of its own) needs nothing else.
 *
 * Names are lower case and carry no trailing dot; addresses are IPv4 in dotted form.
 */
export interface DnsRecords {
  version: 1;
  /** Per network id: each name a container answers to on that network, with its addresses (several containers may share an alias). */
  networks: Record<string, Record<string, string[]>>;
  /** Per network id: address → the name a reverse (PTR) lookup of it answers. */
  reverse: Record<string, Record<string, string>>;
  /** The containers whose namespace gets a resolver at 127.0.0.11:53. */
  sandboxes: DnsSandbox[];
}

/** One container's view of the DNS: where its namespace is and which names it sees. */
export interface DnsSandbox {
  containerId: string;
  /** Its network namespace, `/proc/<pid>/ns/net` of its process (the endpoint's sandbox). */
  netns: string;
  /** The networks it is on, in the order names are looked up. */
  networks: string[];
  /** `--link other:alias`: the alias (and the linked container's own name) → its addresses on a shared network; seen by this container only. */
  links: Record<string, string[]>;
  /** `--dns` servers the container was given; empty: the host's resolv.conf name servers. */
  upstreams: string[];
  /**
   * Whether names from elsewhere are forwarded: false when every network of the container
   * is `--internal` (no route out, so no names from outside either, as Docker; nothing
   * leaves through the resolver), which answers them SERVFAIL.
   */
  forward: boolean;
}

/** The address the resolver listens on inside each container namespace, as in Docker. */
export const embeddedDnsAddress = '127.0.0.11';

/** Lower case and without the trailing dot: the form names are kept and looked up in. */
export function dnsName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}
