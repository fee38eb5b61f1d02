/** A stream with its first bytes read ahead (`head`), replayed in full by `stream`. */
export interface PeekedStream {
  head: Buffer;
  stream: AsyncIterable<Buffer>;
  /** Give up on the rest without reading it: the source is closed (its `return()` called). */
  cancel(): Promise<void>;
}

/** Read at least `bytes` bytes of `source` (fewer when it is shorter) without losing any. */
export async function peek(source: AsyncIterable<Uint8Array>, bytes: number): Promise<PeekedStream> {
  const iterator = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    chunks.push(chunk);
    length += chunk.length;
  }
  const head = Buffer.concat(chunks, length);
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      if (ended) return;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      }
    } finally {
      if (!ended) await iterator.return?.();
    }
  }
  return {
    head,
    stream: replay(),
    async cancel() {
      if (!ended) {
        ended = true;
        await iterator.return?.();
      }
    },
  };
}
