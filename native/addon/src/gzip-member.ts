import { binding } from './binding.js';

/**
 * Where a member `gzipMember` made ends, from its header alone: its FEXTRA carries one
 * subfield, `BM`, whose 4 bytes are the member's total length (little-endian; as BGZF's
 * `BC`). Undefined when `head` (at least the first 20 bytes of a member) is not such a
 * header: another tool's gzip, read the ordinary way.
 */
export function markedMemberLength(head: Buffer): number | undefined {
  if (head.length < memberHeaderSize) return undefined;
  if (head[0] !== 0x1f || head[1] !== 0x8b || head[2] !== 8 || head[3] !== 4) return undefined;
  if (head.readUInt16LE(10) !== 8 || head[12] !== 0x42 || head[13] !== 0x4d || head.readUInt16LE(14) !== 4) return undefined;
  const length = head.readUInt32LE(16);
  return length >= memberHeaderSize + 8 ? length : undefined;
}

/** Bytes of the header of a member `gzipMember` makes (and that `markedMemberLength` reads). */
export const memberHeaderSize = 20;

/**
 * `input` as one complete gzip member (RFC 1952), compressed by libdeflate at `level`
 * (1 to 12; 1 is the fastest) on libuv's thread pool. libdeflate takes whole buffers
 * only, so a stream is compressed as a series of members, one per block, which every
 * gzip reader reads as one stream (RFC 1952 2.2: a gzip file is a series of members);
 * the blocks can then be compressed on several threads at once. At level 1 libdeflate is
 * about twice the speed of zlib's level 1 and gives fewer bytes.
 *
 * The member's header says how long the member is (`markedMemberLength`), so a reader
 * can inflate members on several threads too (`gunzipMember`); to any other gzip reader it
 * is an ordinary extra field, skipped. Deterministic: the same input and level give the
 * same bytes (for one libdeflate version). `input` must not change until the promise settles. A bad argument throws at
 * the call; a failure of the job (out of memory) rejects.
 */
export function gzipMember(input: Buffer, level = 1): Promise<Buffer> {
  let settle: (err: Error | null, output?: Buffer) => void = () => {};
  const done = new Promise<Buffer>((resolve, reject) => {
    settle = (err, output) => (err ? reject(err) : resolve(output!));
  });
  // Called outside the executor so that bad arguments throw here, not as a rejection.
  binding.gzipMember(input, level, settle);
  return done;
}

/**
 * Inflate one whole gzip member whose uncompressed size is `size` (its ISIZE, the last 4
 * bytes), by libdeflate on libuv's thread pool, CRC-32 and size checked. Rejects when the
 * input is anything else: corrupt, truncated, followed by more bytes, or of another size.
 * `input` must not change until the promise settles.
 */
export function gunzipMember(input: Buffer, size: number): Promise<Buffer> {
  let settle: (err: Error | null, output?: Buffer) => void = () => {};
  const done = new Promise<Buffer>((resolve, reject) => {
    settle = (err, output) => (err ? reject(err) : resolve(output!));
  });
  binding.gunzipMember(input, size, settle);
  return done;
}
