/** Stream numbers of the 8-byte frame header: 0 stdin, 1 stdout, 2 stderr (3 is the daemon's own error stream). */
export type StreamType = 0 | 1 | 2 | 3;

/**
 * Splits Docker's multiplexed stream (non-tty attach, exec and logs) back into stdout and
 * stderr. Each frame is `[type, 0, 0, 0, len(4 bytes BE)]` then `len` bytes. Payloads are
 * handed on as they arrive, possibly in several pieces, so a large frame is never
 * buffered whole; only a header split across chunks is held back.
 */
export class FrameDemuxer {
  private readonly header = Buffer.alloc(8);
  private headerLength = 0;
  private remaining = 0;
  private stream: StreamType = 1;

  constructor(private readonly onData: (stream: StreamType, data: Buffer) => void) {}

  /** Feeds bytes; throws if a header is not a stream frame (the output was raw, e.g. a tty). */
  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining === 0) {
        const take = Math.min(8 - this.headerLength, chunk.length - offset);
        chunk.copy(this.header, this.headerLength, offset, offset + take);
        this.headerLength += take;
        offset += take;
        if (this.headerLength < 8) return;
        this.headerLength = 0;
        const type = this.header[0]!;
        if (type > 3 || this.header[1] !== 0 || this.header[2] !== 0 || this.header[3] !== 0) {
          throw new Error(`unrecognized stream frame header ${this.header.toString('hex')}: is the output raw (a tty)?`);
        }
        this.stream = type as StreamType;
        this.remaining = this.header.readUInt32BE(4);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - offset);
      this.onData(this.stream, chunk.subarray(offset, offset + take));
      this.remaining -= take;
      offset += take;
    }
  }

  /** True when the stream stopped in the middle of a frame. */
  get truncated(): boolean {
    return this.remaining > 0 || this.headerLength > 0;
  }
}

/** One frame, header and payload: what the daemon writes for a non-tty stream. */
export function encodeFrame(stream: StreamType, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}
