import type { ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';

/**
 * Writes one chunk of a streamed response and waits while the client is slow to read,
 * so a fast producer (a big log) does not pile up in memory. Resolves false when the
 * client has gone away and writing should stop.
 */
export function writeChunk(out: Writable, data: Buffer | string): Promise<boolean> {
  if (out.destroyed || out.writableEnded) return Promise.resolve(false);
  if (out.write(data)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    out.on('drain', onDrain);
    out.on('close', onClose);
  });
}

/** Starts a JSON-lines stream (pull, load, import, events): 200, chunked, headers out at once. */
export function startJsonLines(res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
}

/** One object of a JSON-lines stream. */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

/** An AbortSignal that fires when the client closes the connection before the response ended. */
export function clientGoneSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => controller.abort());
  return controller.signal;
}
