/**
 * Bytes as berth's functions take them: a Node stream, an async generator, or (for
 * data already in memory) an array of buffers.
 */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Any `ByteSource` as an async iterable. */
export function asyncBytes(source: ByteSource): AsyncIterable<Uint8Array> {
  if (Symbol.asyncIterator in source) return source as AsyncIterable<Uint8Array>;
  const iterable = source as Iterable<Uint8Array>;
  return (async function* () {
    yield* iterable;
  })();
}
