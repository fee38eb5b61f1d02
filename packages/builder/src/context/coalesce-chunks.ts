/**
 * The chunks of `source` gathered into pieces of at least `size` bytes (the last one
 * smaller): the docker CLI sends a context as one HTTP chunk per write of Go's tar
 * writer (a header, a small file's bytes, its padding), some 3,000 pieces of a few
 * hundred bytes for 1,000 small files, and each piece went through every stage of the
 * reading (decompression check, tee to the spool, the tar reader) on its own: most of
 * what berthd spent receiving a context. Waiting for more bytes costs nothing here: the
 * whole context is read before the build starts. An error of `source` is thrown as is.
 */
export async function* coalesceChunks(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, size = 64 << 10): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    held.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    bytes += chunk.length;
    if (bytes >= size) {
      yield held.length === 1 ? held[0]! : Buffer.concat(held, bytes);
      held = [];
      bytes = 0;
    }
  }
  if (bytes > 0) yield held.length === 1 ? held[0]! : Buffer.concat(held, bytes);
}
