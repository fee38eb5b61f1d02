/**
 * Docker's multiplexed stream format: for containers without a tty
 * every write is an 8-byte header (stream type, three zero bytes, big-endian length)
 * followed by the payload. With a tty the bytes go raw.
 */
export const StreamType = { stdin: 0, stdout: 1, stderr: 2 } as const;

/** One frame: header and payload in one buffer, so it goes out as one write (and one chunk). */
export function frame(stream: 'stdout' | 'stderr', data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(8 + data.length);
  out[0] = StreamType[stream];
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  out.writeUInt32BE(data.length, 4);
  data.copy(out, 8);
  return out;
}

/** A frame whose payload is `prefix` followed by `data` (log lines with timestamps). */
export function frameWithPrefix(stream: 'stdout' | 'stderr', prefix: string, data: Buffer): Buffer {
  const p = Buffer.byteLength(prefix);
  const out = Buffer.allocUnsafe(8 + p + data.length);
  out[0] = StreamType[stream];
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  out.writeUInt32BE(p + data.length, 4);
  out.write(prefix, 8, 'utf8');
  data.copy(out, 8 + p);
  return out;
}
