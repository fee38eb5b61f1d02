import * as dgram from 'node:dgram';
import { closeSync, promises as fs, statSync } from 'node:fs';
import * as net from 'node:net';
import { socketInNetns } from '@berth/native';
import { answerQuery, serverFailure } from './dns-answers.js';
import { type DnsRecords, type DnsSandbox, embeddedDnsAddress } from './dns-records.js';

/** How long one upstream server has to answer a forwarded query before the next is asked (or SERVFAIL sent). */
const defaultUpstreamTimeoutMs = 2000;
/** At most this many upstream servers are tried per query, as a stub resolver does. */
const maxUpstreams = 3;
/** A TCP connection from a container with no query for this long is closed. */
const tcpIdleMs = 10_000;
/** TCP connections one container may hold open at once (a stub resolver needs one). */
const maxTcpConnections = 64;
/** Forwarded queries in flight, over all containers (Docker's limit too); past it a query is answered SERVFAIL at once. */
const defaultMaxForwards = 1024;

/** The sockets of one container's namespace and the sandbox they answer for. */
interface Listening {
  sandbox: DnsSandbox;
  /** The namespace's inode when the sockets were made: a different one at the same path means the container is gone. */
  inode: number;
  udp: dgram.Socket;
  tcp: net.Server;
  connections: Set<net.Socket>;
}

export interface EmbeddedResolverOptions {
  upstreamTimeoutMs?: number;
  /** Forwarded queries in flight at most (default 1024): one container flooding names from elsewhere cannot take every descriptor. */
  maxForwards?: number;
  /** The host's resolver configuration, for containers without `--dns` (default `/etc/resolv.conf`). */
  hostResolvConf?: string;
  log?: (message: string) => void;
}

/**
 * The embedded DNS server of every container namespace in the records: a UDP and a TCP
 * socket bound to 127.0.0.11:53 inside each (made there by `socketInNetns`; the sockets
 * are this process's, in its own event loop, so nothing runs in the namespace), answered
 * from the records (`answerQuery`), anything else forwarded from the host's namespace to
 * the container's `--dns` servers or the host's name servers, SERVFAIL when none answers
 * in time.
 *
 * Lifecycle: `apply(records)` makes the sockets of new sandboxes and closes those of
 * sandboxes that left (a socket keeps its namespace alive, so this matters); `sweep()`
 * closes the sockets of namespaces whose process is gone (a container that ended while
 * berthd was down); `close()` closes everything.
 */
export class EmbeddedResolver {
  private records: DnsRecords = { version: 1, networks: {}, reverse: {}, sandboxes: [] };
  private readonly listening = new Map<string, Listening>();
  /** Sandboxes (`containerId netns`) whose namespace went away: never entered again, even if the records still name them. */
  private readonly gone = new Set<string>();
  private hostUpstreams: string[] = [];
  private readonly upstreamTimeoutMs: number;
  private readonly maxForwards: number;
  private forwarding = 0;
  private readonly hostResolvConf: string;
  private readonly log: (message: string) => void;

  constructor(options: EmbeddedResolverOptions = {}) {
    this.upstreamTimeoutMs = options.upstreamTimeoutMs ?? defaultUpstreamTimeoutMs;
    this.maxForwards = options.maxForwards ?? defaultMaxForwards;
    this.hostResolvConf = options.hostResolvConf ?? '/etc/resolv.conf';
    this.log = options.log ?? (() => {});
  }

  /** The containers whose namespace has the resolver's sockets now. */
  get sandboxIds(): string[] {
    return [...this.listening.keys()];
  }

  /** Take new records: sockets made for new sandboxes, closed for those that left; the host's name servers read again. */
  async apply(records: DnsRecords): Promise<void> {
    this.records = records;
    this.hostUpstreams = await readNameservers(this.hostResolvConf);
    const wanted = new Map(records.sandboxes.map((s) => [s.containerId, s]));
    for (const [id, entry] of this.listening) {
      const next = wanted.get(id);
      if (next && next.netns === entry.sandbox.netns) entry.sandbox = next;
      else this.closeEntry(id, entry);
    }
    for (const sandbox of records.sandboxes) {
      if (this.listening.has(sandbox.containerId) || this.gone.has(goneKey(sandbox))) continue;
      try {
        await this.listen(sandbox);
      } catch (err) {
        this.log(`cannot listen in the namespace of ${sandbox.containerId.slice(0, 12)} (${sandbox.netns}): ${String(err)}`);
      }
    }
  }

  /** Close the sockets of every namespace whose process is gone or was replaced (its pid reused). */
  sweep(): void {
    for (const [id, entry] of this.listening) {
      let inode: number | undefined;
      try {
        inode = statSync(entry.sandbox.netns).ino;
      } catch {}
      if (inode !== entry.inode) {
        this.gone.add(goneKey(entry.sandbox));
        this.closeEntry(id, entry);
      }
    }
  }

  close(): void {
    for (const [id, entry] of this.listening) this.closeEntry(id, entry);
  }

  private async listen(sandbox: DnsSandbox): Promise<void> {
    const inode = statSync(sandbox.netns).ino;
    const udpFd = socketInNetns(sandbox.netns, 'udp', embeddedDnsAddress, 53);
    let tcpFd: number;
    try {
      tcpFd = socketInNetns(sandbox.netns, 'tcp', embeddedDnsAddress, 53);
    } catch (err) {
      closeSync(udpFd);
      throw err;
    }
    const udp = dgram.createSocket('udp4');
    const tcp = net.createServer();
    tcp.maxConnections = maxTcpConnections;
    const entry: Listening = { sandbox, inode, udp, tcp, connections: new Set() };
    udp.on('message', (msg, from) => void this.onUdp(entry, msg, from));
    udp.on('error', (err) => this.log(`udp socket of ${sandbox.containerId.slice(0, 12)}: ${String(err)}`));
    tcp.on('connection', (conn) => this.onTcp(entry, conn));
    tcp.on('error', (err) => this.log(`tcp socket of ${sandbox.containerId.slice(0, 12)}: ${String(err)}`));
    await Promise.all([
      new Promise<void>((resolve) => udp.bind({ fd: udpFd }, resolve)),
      new Promise<void>((resolve) => tcp.listen({ fd: tcpFd }, resolve)),
    ]);
    this.listening.set(sandbox.containerId, entry);
  }

  private closeEntry(id: string, entry: Listening): void {
    this.listening.delete(id);
    entry.udp.close();
    entry.tcp.close();
    for (const conn of entry.connections) conn.destroy();
  }

  private async onUdp(entry: Listening, query: Buffer, from: dgram.RemoteInfo): Promise<void> {
    const reply = await this.resolve(entry.sandbox, query, 'udp');
    if (reply && this.listening.get(entry.sandbox.containerId) === entry) entry.udp.send(reply, from.port, from.address);
  }

  private onTcp(entry: Listening, conn: net.Socket): void {
    entry.connections.add(conn);
    conn.setTimeout(tcpIdleMs, () => conn.destroy());
    conn.on('close', () => entry.connections.delete(conn));
    conn.on('error', () => {});
    let pending = Buffer.alloc(0);
    conn.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const query = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + query.length);
        void this.resolve(entry.sandbox, Buffer.from(query), 'tcp').then((reply) => {
          if (reply && !conn.destroyed) conn.write(frame(reply));
        });
      }
    });
  }

  /** The reply to one query: from the records, or from the upstream servers, or SERVFAIL. */
  private async resolve(sandbox: DnsSandbox, query: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const decision = answerQuery(this.records, sandbox, query, transport === 'udp');
    if (!decision) return undefined;
    if ('answer' in decision) return decision.answer;
    if (!sandbox.forward || this.forwarding >= this.maxForwards) return serverFailure(query);
    this.forwarding++;
    try {
      const upstreams = (sandbox.upstreams.length > 0 ? sandbox.upstreams : this.hostUpstreams).slice(0, maxUpstreams);
      for (const server of upstreams) {
        const reply = await (transport === 'udp' ? this.forwardUdp(server, query) : this.forwardTcp(server, query)).catch(() => undefined);
        if (reply) return reply;
      }
      return serverFailure(query);
    } finally {
      this.forwarding--;
    }
  }

  /** One query to one server over UDP, from the host's namespace; undefined when it does not answer in time. */
  private forwardUdp(server: string, query: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const socket = dgram.createSocket(net.isIPv6(server) ? 'udp6' : 'udp4');
      const id = query.readUInt16BE(0);
      const done = (reply: Buffer | undefined) => {
        clearTimeout(timer);
        socket.close();
        resolve(reply);
      };
      const timer = setTimeout(() => done(undefined), this.upstreamTimeoutMs);
      socket.on('error', () => done(undefined)); // refused, unreachable: the next server
      socket.on('message', (msg) => {
        if (msg.length >= 2 && msg.readUInt16BE(0) === id) done(msg);
      });
      socket.connect(53, server, () => socket.send(query));
    });
  }

  /** One query to one server over TCP; undefined when it does not answer in time. */
  private forwardTcp(server: string, query: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const conn = net.connect({ port: 53, host: server });
      let received = Buffer.alloc(0);
      const done = (reply: Buffer | undefined) => {
        clearTimeout(timer);
        conn.destroy();
        resolve(reply);
      };
      const timer = setTimeout(() => done(undefined), this.upstreamTimeoutMs);
      conn.on('error', () => done(undefined));
      conn.on('connect', () => conn.write(frame(query)));
      conn.on('data', (chunk) => {
        received = Buffer.concat([received, chunk]);
        if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0))
          done(received.subarray(2, 2 + received.readUInt16BE(0)));
      });
      conn.on('end', () => done(undefined));
    });
  }
}

function goneKey(sandbox: DnsSandbox): string {
  return `${sandbox.containerId} ${sandbox.netns}`;
}

/** A DNS message as TCP carries it: its length in two bytes, then the message. */
function frame(message: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

/** The `nameserver` addresses of a resolv.conf (loopback ones included: the resolver forwards from the host's namespace). */
export async function readNameservers(file: string): Promise<string[]> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && net.isIP(m[1]!.replace(/%.*$/, ''))) servers.push(m[1]!);
  }
  return servers;
}
