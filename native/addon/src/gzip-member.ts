import { binding } from './binding.js';

/**
 * `input` as one complete gzip member (RFC 1952), compressed by libdeflate at `level`
 * (1 to 12; 1 is the fastest) on libuv's thread pool. libdeflate takes whole buffers
 * only, so a stream is compressed as a series of members, one per block, which every
 * gzip reader reads as one stream (RFC 1952 2.2: a gzip file is a series of members);
 * the blocks can then be compressed on several threads at once. At level 1 libdeflate is
 * about twice the speed of zlib's level 1 and gives fewer bytes.
 *
 * Deterministic: the same input and level give the same bytes (for one libdeflate
 * version). `input` must not change until the promise settles. A bad argument throws at
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
