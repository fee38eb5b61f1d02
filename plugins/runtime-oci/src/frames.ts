/**
 * The berth-shim socket protocol (native/shim/README.md): every message is a frame of
 * 1 byte stream id, 4 bytes big-endian payload length, then the payload.
 * Streams: 0 stdin (client → shim; an empty frame closes stdin), 1 stdout, 2 stderr,
 * 3 control requests and their answers, 4 an exec's exit record (shim → client, after its
 * last output, as exit.json has it), 5 the process part of a prepared direct exec's plan
 * (client → shim, once, before its `start`).
 */
export const StreamId = { stdin: 0, stdout: 1, stderr: 2, control: 3, exit: 4, process: 5 } as const;

const headerSize = 5;
/** The shim drops a client that sends a larger frame. */
export const maxFrame = 1 << 20;

export function encodeFrame(stream: number, payload: Buffer): Buffer {
  const header = Buffer.allocUnsafe(headerSize);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

/** Incremental decoder: feed socket chunks, get whole frames. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer, onFrame: (stream: number, payload: Buffer) => void): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (this.pending.length - offset >= headerSize) {
      const length = this.pending.readUInt32BE(offset + 1);
      if (this.pending.length - offset - headerSize < length) break;
      const stream = this.pending.readUInt8(offset);
      onFrame(stream, this.pending.subarray(offset + headerSize, offset + headerSize + length));
      offset += headerSize + length;
    }
    this.pending = offset === this.pending.length ? Buffer.alloc(0) : this.pending.subarray(offset);
  }
}
