import { gunzipMember, markedMemberLength, memberHeaderSize } from '@berth/native';

/** Members larger than this (compressed, or their ISIZE) are left to the streaming decoder: memory stays bounded. */
const maxMemberBytes = 8 << 20;
const maxMemberOutput = 8 << 20;
/** Members inflating at once: libuv's default pool, so one layer uses every core. */
const membersInFlight = 4;

/**
 * Inflate a gzip stream, fast when berth's push made it: such a stream is a series of
 * members each saying its own length in its header (`markedMemberLength`, @berth/native's
 * `gzipMember`), so each member is cut out whole and inflated by libdeflate on libuv's
 * thread pool (about twice zlib's speed), `membersInFlight` at once, yielded in order.
 * From the first member that does not say its length (any other tool's gzip, from its
 * first byte or after berth's members) or is too big to hold, the rest goes to
 * `fallback` (zlib's streaming gunzip, which reads every gzip). Bytes after the last
 * member that are not a gzip member are ignored, as zlib ignores them.
 *
 * A member that fails (corrupt, truncated, a size that does not match) throws its
 * error, as a corrupt stream throws from zlib.
 */
export async function* inflateMembers(
  source: AsyncIterable<Buffer>,
  fallback: (rest: AsyncIterable<Buffer>) => AsyncIterable<Buffer>,
): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  let parts: Buffer[] = [];
  let buffered = 0;
  let ended = false;
  let members = 0;
  // In order; each has a handler, so one failing while an earlier is awaited is not unhandled.
  const pending: Promise<Buffer>[] = [];
  const more = async (): Promise<void> => {
    const next = await iterator.next();
    if (next.done) ended = true;
    else {
      parts.push(next.value);
      buffered += next.value.length;
    }
  };
  const joined = (): Buffer => {
    if (parts.length !== 1) parts = [Buffer.concat(parts, buffered)];
    return parts[0]!;
  };
  async function* rest(): AsyncGenerator<Buffer> {
    yield* parts;
    parts = [];
    buffered = 0;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  try {
    for (;;) {
      while (buffered < memberHeaderSize && !ended) await more();
      if (buffered === 0) break;
      const head = joined();
      const length = markedMemberLength(head);
      while (length !== undefined && length <= maxMemberBytes && buffered < length && !ended) await more();
      const all = joined();
      const size = length !== undefined && all.length >= length ? all.readUInt32LE(length - 4) : undefined;
      if (length === undefined || length > maxMemberBytes || size === undefined || size > maxMemberOutput) {
        while (pending.length > 0) yield await pending.shift()!;
        // Not one of berth's members (or truncated, which zlib reports in its words).
        if (members > 0 && !(all[0] === 0x1f && (all.length < 2 || all[1] === 0x8b))) return;
        yield* fallback(rest());
        return;
      }
      const member = all.subarray(0, length);
      parts = all.length > length ? [all.subarray(length)] : [];
      buffered = all.length - length;
      const inflating = gunzipMember(member, size);
      inflating.catch(() => {});
      pending.push(inflating);
      members++;
      while (pending.length >= membersInFlight) yield await pending.shift()!;
    }
    while (pending.length > 0) yield await pending.shift()!;
  } finally {
    if (!ended) await iterator.return?.();
  }
}
