import { binding } from './binding.js';

/** Where `netlinkTransact` opens its socket. */
export interface NetlinkOptions {
  /**
   * A descriptor of a network namespace (an open `/proc/<pid>/ns/net`): the socket is
   * opened inside it, by a thread of the addon's own that ends afterwards (no thread
   * that serves anything else ever changes namespace). Absent: the caller's namespace.
   */
  netnsFd?: number;
}

/** Most requests one call takes. */
export const netlinkRequestsMax = 64;

/**
 * Send rtnetlink requests (NETLINK_ROUTE) in order, in one job on libuv's thread pool,
 * through a socket of the job's own, and resolve with what the kernel answered to each:
 * one Buffer per request holding its answer messages (a `RTM_GETLINK`'s `RTM_NEWLINK`,
 * a dump's parts), empty for a request that is only acknowledged. Each request is one
 * netlink message (`nlmsg_len` its length) whose flags and sequence number the caller
 * chose: every request must ask for an acknowledgement (`NLM_F_ACK`) or be a dump
 * (`NLM_F_DUMP`), which is how the job knows its answer is complete.
 *
 * A request the kernel leaves unanswered for 30 s (one without NLM_F_ACK) fails with
 * EAGAIN (`syscall` `recv`) instead of holding the thread for ever.
 *
 * The first request the kernel refuses stops the rest and rejects with an fs-shaped
 * error: `code` and `errno` (EEXIST, ENODEV…), `syscall` `netlink`, `path` the kernel's
 * extended-ack text when it gave one, `index` the refused request (-1 when the socket
 * itself failed: `syscall` is then `setns`, `socket`, `sendto` or `recv`). What the
 * requests before it did stays done. Bad arguments throw at the call.
 *
 * The message encoding is the caller's (the policy); this is only the transport.
 */
export function netlinkTransact(requests: readonly Buffer[], options: NetlinkOptions = {}): Promise<Buffer[]> {
  let settle: (err: Error | null, replies?: Buffer[]) => void = () => {};
  const done = new Promise<Buffer[]>((resolve, reject) => {
    settle = (err, replies) => (err ? reject(err) : resolve(replies!));
  });
  // Called outside the executor so that bad arguments throw here, not as a rejection.
  binding.netlinkTransact(netnsFdOf(options), requests, settle);
  return done;
}

/** `netlinkTransact` on the calling thread: the same requests, the replies returned, a refusal thrown. */
export function netlinkTransactSync(requests: readonly Buffer[], options: NetlinkOptions = {}): Buffer[] {
  return binding.netlinkTransact(netnsFdOf(options), requests);
}

function netnsFdOf(options: NetlinkOptions): number {
  const fd = options.netnsFd ?? -1;
  if (!Number.isInteger(fd) || fd < -1) throw new RangeError(`netlinkTransact: invalid netnsFd ${options.netnsFd}`);
  return fd;
}
