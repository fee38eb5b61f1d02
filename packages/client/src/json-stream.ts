import type { Response } from './http1.js';

/**
 * Reads a response that streams one JSON object per line (`/events`, `/stats`), handing
 * each to `onObject` as it arrives, with its line (for what JSON.parse would round: an
 * event's `timeNano`). Resolves when the daemon ends the stream, the
 * connection closes, or `signal` aborts (the response is then destroyed): a stream the
 * caller stops is not an error.
 */
export function readJsonStream<T>(res: Response, onObject: (value: T, line: string) => void, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    let pending = '';
    const done = (): void => {
      signal?.removeEventListener('abort', abort);
      resolve();
    };
    const abort = (): void => {
      res.destroy();
      done();
    };
    if (signal?.aborted) return abort();
    signal?.addEventListener('abort', abort, { once: true });
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line) onObject(JSON.parse(line) as T, line);
      }
    });
    res.on('end', done);
    res.on('close', done);
    res.on('error', done);
  });
}
