/**
 * Reads exact byte counts from a stream of chunks without copying when a chunk holds
 * enough. The tar reader's only view of its input.
 */
export class ByteReader {
  private chunk: Buffer = Buffer.alloc(0);
  private offset = 0;
  private done = false;
  /** Bytes handed out (or skipped) so far: the position in the stream. */
  position = 0;

  constructor(private readonly iterator: AsyncIterator<Uint8Array>) {}

  /**
   * Exactly `n` bytes, or fewer only when the stream ends first (then the caller
   * decides whether that is an error). An empty buffer means the stream had ended.
   */
  async read(n: number): Promise<Buffer> {
    if (this.available() >= n) return this.take(n);
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      if (this.available() === 0 && !(await this.fill())) break;
      const piece = this.take(Math.min(n - have, this.available()));
      parts.push(piece);
      have += piece.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
  }

  /**
   * Up to `max` bytes, whatever is at hand (at least one byte unless the stream ended):
   * lets a file body flow chunk by chunk without being gathered.
   */
  async readSome(max: number): Promise<Buffer> {
    if (this.available() === 0 && !(await this.fill())) return Buffer.alloc(0);
    return this.take(Math.min(max, this.available()));
  }

  /** Skip `n` bytes; returns how many could be skipped before the stream ended. */
  async skip(n: number): Promise<number> {
    let skipped = 0;
    while (skipped < n) {
      if (this.available() === 0 && !(await this.fill())) break;
      skipped += this.take(Math.min(n - skipped, this.available())).length;
    }
    return skipped;
  }

  /**
   * Read and discard everything left, or stop once more than `limit` bytes were
   * discarded. Returns how many were (over `limit` means the stream went on).
   */
  async drain(limit = Number.POSITIVE_INFINITY): Promise<number> {
    let drained = this.available();
    this.position += drained;
    this.offset = this.chunk.length;
    while (drained <= limit && (await this.fill())) {
      drained += this.chunk.length;
      this.position += this.chunk.length;
      this.offset = this.chunk.length;
    }
    return drained;
  }

  /** Stop reading: let the source release what it holds. */
  async close(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.iterator.return?.();
    }
  }

  private available(): number {
    return this.chunk.length - this.offset;
  }

  private take(n: number): Buffer {
    const out = this.chunk.subarray(this.offset, this.offset + n);
    this.offset += n;
    this.position += n;
    return out;
  }

  private async fill(): Promise<boolean> {
    while (!this.done) {
      const next = await this.iterator.next();
      if (next.done) {
        this.done = true;
        return false;
      }
      if (next.value.length === 0) continue;
      const v = next.value;
      this.chunk = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      this.offset = 0;
      return true;
    }
    return false;
  }
}
