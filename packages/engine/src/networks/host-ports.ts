import * as dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import {
  Conflict,
  InvalidArgument,
  inject,
  injectable,
  isBerthError,
  type Logger,
  LoggerToken,
  type PublishedPort,
  SystemError,
  token,
} from '@berth/core';
import type { PortRequest } from './port-requests.js';

/** Docker's ephemeral range, used when the host's ip_local_port_range cannot be read. */
const defaultEphemeral = { start: 32768, end: 60999 };

/** A socket bound to a host port for as long as berth publishes it. */
interface Hold {
  binding: PublishedPort;
  owner: string;
  close(): void;
}

const keyOf = (b: { protocol: string; hostIp: string; hostPort: number }) => `${b.protocol}/${b.hostIp}/${b.hostPort}`;

/**
 * The host ports berth publishes, chosen and held. Every published port is held by a
 * socket of berthd's bound to it (TCP listening, UDP bound), as dockerd does without its
 * userland proxy: the kernel then refuses the port to any other program (and to another
 * berthd on the host) for as long as berth forwards it, and a port some program already
 * uses is refused here, by name, before anything is forwarded. The sockets carry no
 * traffic (the DNAT rules take every new connection before it could reach them; one that
 * did would be closed at once). They go with the daemon; the rules do not, and the
 * sockets are bound again when berthd restarts (`hold`).
 *
 * An ephemeral port (`-p 80`, `-P`) is the next port of the host's ip_local_port_range
 * (Docker's 32768-60999 when unreadable) after the last one handed out that binds: one
 * neither berth nor any other program holds. Reservations are serialised, so two
 * containers starting side by side never get the same port.
 */
@injectable()
export class HostPortAllocator {
  private readonly holds = new Map<string, Hold>();
  private readonly cursor = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly ephemeral: { start: number; end: number };

  constructor(@inject(LoggerToken) private readonly log: Logger) {
    this.ephemeral = ephemeralRange();
  }

  /** The range ephemeral ports are chosen from. */
  get ephemeralRange(): { start: number; end: number } {
    return { ...this.ephemeral };
  }

  /**
   * Choose and hold a host port for each request of `owner` (a container's name, for
   * errors). All or nothing: when one cannot be had, those taken for this call are
   * released and a Conflict names the port.
   */
  reserve(owner: string, requests: PortRequest[]): Promise<PublishedPort[]> {
    return this.serialised(async () => {
      const taken: Hold[] = [];
      try {
        for (const request of requests) taken.push(await this.reserveOne(owner, request));
      } catch (err) {
        for (const hold of taken) this.drop(hold);
        throw err;
      }
      return taken.map((h) => h.binding);
    });
  }

  /**
   * Hold ports recorded before a restart (the endpoints of containers that kept running).
   * A port some program took while berthd was down is logged, not fatal: the kernel's
   * rules still forward it.
   */
  hold(owner: string, bindings: PublishedPort[]): Promise<void> {
    return this.serialised(async () => {
      for (const binding of bindings) {
        if (this.holds.has(keyOf(binding))) continue;
        try {
          this.holds.set(keyOf(binding), await bind(binding, owner));
        } catch (err) {
          this.log.warn('cannot hold a published port again', { owner, port: describe(binding), error: String(err) });
        }
      }
    });
  }

  /** Give back the ports of these bindings (those not held are skipped). */
  release(bindings: PublishedPort[] | undefined): void {
    for (const binding of bindings ?? []) {
      const hold = this.holds.get(keyOf(binding));
      if (hold) this.drop(hold);
    }
  }

  /** Close every socket (the engine's close); the rules stay in the kernel. */
  close(): void {
    for (const hold of [...this.holds.values()]) this.drop(hold);
  }

  private async reserveOne(owner: string, request: PortRequest): Promise<Hold> {
    const { protocol, hostIp, containerPort } = request;
    if (request.hostPortStart !== 0) {
      let lastError: unknown;
      for (let port = request.hostPortStart; port <= request.hostPortEnd; port++) {
        const binding: PublishedPort = { protocol, hostIp, hostPort: port, containerPort };
        const mine = this.heldBy(binding);
        if (mine) {
          lastError = new Conflict(`Bind for ${hostIp}:${port} failed: port is already allocated (to container ${mine.owner})`);
          continue;
        }
        try {
          return this.keep(await bind(binding, owner));
        } catch (err) {
          lastError = err;
        }
      }
      if (request.hostPortStart === request.hostPortEnd) throw lastError;
      throw new Conflict(
        `Bind for ${hostIp}:${request.hostPortStart}-${request.hostPortEnd} failed: no port of the range is free (${String(lastError)})`,
      );
    }
    const { start, end } = this.ephemeral;
    const size = end - start + 1;
    const cursorKey = `${protocol}/${hostIp}`;
    const from = this.cursor.get(cursorKey) ?? start;
    for (let i = 0; i < size; i++) {
      const port = start + ((from - start + i) % size);
      const binding: PublishedPort = { protocol, hostIp, hostPort: port, containerPort };
      if (this.heldBy(binding)) continue;
      try {
        const hold = await bind(binding, owner);
        this.cursor.set(cursorKey, port + 1 > end ? start : port + 1);
        return this.keep(hold);
      } catch (err) {
        if (!isBerthConflict(err)) throw err;
      }
    }
    throw new Conflict(`no free ${protocol} port left on ${hostIp} in ${start}-${end} for container ${owner}`);
  }

  /** The hold that conflicts with a binding: the same port and protocol on the same address, or either on every address. */
  private heldBy(binding: PublishedPort): Hold | undefined {
    for (const hold of this.holds.values()) {
      const b = hold.binding;
      if (b.protocol !== binding.protocol || b.hostPort !== binding.hostPort) continue;
      if (b.hostIp === binding.hostIp || b.hostIp === '0.0.0.0' || binding.hostIp === '0.0.0.0') return hold;
    }
    return undefined;
  }

  private keep(hold: Hold): Hold {
    this.holds.set(keyOf(hold.binding), hold);
    return hold;
  }

  private drop(hold: Hold): void {
    this.holds.delete(keyOf(hold.binding));
    hold.close();
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => {});
    return next;
  }
}

function describe(b: PublishedPort): string {
  return `${b.hostIp}:${b.hostPort}/${b.protocol}`;
}

function isBerthConflict(err: unknown): boolean {
  return isBerthError(err, 'Conflict');
}

/** Bind a socket to the binding's host address and port: Conflict when the port is in use, InvalidArgument when the address is not the host's. */
function bind(binding: PublishedPort, owner: string): Promise<Hold> {
  const { hostIp, hostPort, protocol } = binding;
  const failed = (err: NodeJS.ErrnoException): Error => {
    if (err.code === 'EADDRINUSE')
      return new Conflict(`Bind for ${hostIp}:${hostPort} failed: port is already in use on the host (${protocol})`);
    if (err.code === 'EADDRNOTAVAIL')
      return new InvalidArgument(`cannot publish on ${hostIp}:${hostPort}: ${hostIp} is not an address of the host`);
    return new SystemError(`cannot hold ${hostIp}:${hostPort}/${protocol}: ${err.message}`, { cause: err });
  };
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const socket = dgram.createSocket({ type: 'udp4' });
      socket.once('error', (err) => {
        socket.close();
        reject(failed(err));
      });
      socket.on('message', () => {}); // what reaches it unforwarded is dropped
      socket.bind({ port: hostPort, address: hostIp, exclusive: true }, () => {
        socket.removeAllListeners('error');
        socket.on('error', () => {});
        socket.unref();
        resolve({ binding, owner, close: () => socket.close() });
      });
      return;
    }
    const server = net.createServer((connection) => connection.destroy());
    server.once('error', (err) => reject(failed(err)));
    server.listen({ port: hostPort, host: hostIp, exclusive: true, backlog: 1 }, () => {
      server.removeAllListeners('error');
      server.on('error', () => {});
      server.unref();
      resolve({ binding, owner, close: () => server.close() });
    });
  });
}

/** The host's ephemeral port range (`net.ipv4.ip_local_port_range`), Docker's when unreadable. */
function ephemeralRange(): { start: number; end: number } {
  try {
    const [start, end] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];
    if (Number.isInteger(start) && Number.isInteger(end) && start >= 1 && end <= 65535 && start <= end) return { start, end };
  } catch {}
  return { ...defaultEphemeral };
}

export const HostPortAllocatorToken = token<HostPortAllocator>('HostPortAllocator');
