import { binding } from './binding.js';

/**
 * A socket made inside another network namespace (`netnsPath`, e.g. `/proc/<pid>/ns/net`),
 * bound to `address:port`, listening when `kind` is `tcp`; returns its descriptor
 * (close-on-exec, non-blocking) for `dgram`'s `bind({ fd })` or `net`'s `listen({ fd })`.
 *
 * The calling thread enters the namespace (setns(2)), makes and binds the socket, and
 * returns to its own namespace before this returns, synchronously: nothing else runs on
 * the thread in between, and the socket stays in the namespace it was made in (it keeps
 * that namespace alive while open: close it when the namespace's owner is gone).
 * `IP_FREEBIND` lets it bind an address that is not up yet (a fresh namespace's `lo`).
 * Throws an fs-style error (`ENOENT: …, open '/proc/1234/ns/net'`, `EADDRINUSE: …, bind …`).
 */
export function socketInNetns(netnsPath: string, kind: 'udp' | 'tcp', address: string, port: number): number {
  return binding.socketInNetns(netnsPath, kind === 'tcp', address, port);
}
