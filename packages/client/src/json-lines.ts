import type { Readable } from 'node:stream';
import { ApiError } from './errors.js';

/** One line of a progress stream (pull, push, build, load, import), as the daemon writes it. */
export interface JsonMessage {
  status?: string;
  id?: string;
  stream?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: Record<string, unknown>;
  error?: string;
  errorDetail?: { code?: number; message?: string };
}

/**
 * Reads a JSON-lines body to its end, handing each message to `onMessage` as it comes.
 * An in-band error (`{"errorDetail":…,"error":…}`, sent after the 200) rejects with an
 * ApiError (status 500, `code` from `errorDetail.code`) once the messages before it were
 * delivered. Resolves with every message.
 */
export function readJsonLines(body: Readable, what: string, onMessage?: (message: JsonMessage) => void): Promise<JsonMessage[]> {
  return new Promise((resolve, reject) => {
    const messages: JsonMessage[] = [];
    let pending = '';
    let failed: ApiError | undefined;
    const handle = (line: string): void => {
      if (failed || !line.trim()) return;
      let message: JsonMessage;
      try {
        message = JSON.parse(line) as JsonMessage;
      } catch {
        failed = new ApiError(500, `malformed progress message from the daemon: ${line.slice(0, 200)}`, what);
        return;
      }
      if (message.errorDetail || message.error) {
        const text = message.errorDetail?.message || message.error || 'unknown error';
        failed = new ApiError(500, text, what, message.errorDetail?.code);
        return;
      }
      messages.push(message);
      onMessage?.(message);
    };
    body.setEncoding('utf8');
    body.on('data', (chunk: string) => {
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        handle(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    body.on('end', () => {
      handle(pending);
      if (failed) reject(failed);
      else resolve(messages);
    });
    body.on('error', reject);
  });
}
