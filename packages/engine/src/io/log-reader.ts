import { createReadStream, promises as fs, watch } from 'node:fs';
import type { LogLine, LogsOptions } from '@berth/core';

/** One line of Docker's json-file log format, as berth-shim writes it. */
interface JsonLogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

/** Unix seconds of an RFC 3339 timestamp, with its fraction (a double holds it to about 0.25 µs). */
export function unixSeconds(time: string): number {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return Date.parse(time) / 1000;
  return Date.parse(m[1] + m[3]) / 1000 + (m[2] ? Number(`0.${m[2]}`) : 0);
}

function parseEntry(line: string): JsonLogEntry | undefined {
  if (!line) return undefined;
  try {
    return JSON.parse(line) as JsonLogEntry;
  } catch {
    return undefined; // a line cut by a crash mid-write is skipped
  }
}

function accept(entry: JsonLogEntry, options: LogsOptions): boolean {
  if (entry.stream === 'stdout' && !options.stdout) return false;
  if (entry.stream === 'stderr' && !options.stderr) return false;
  if (options.since !== undefined && options.since > 0 && unixSeconds(entry.time) < options.since) return false;
  if (options.until !== undefined && options.until > 0 && unixSeconds(entry.time) >= options.until) return false;
  return true;
}

function toLine(entry: JsonLogEntry): LogLine {
  return { stream: entry.stream, data: Buffer.from(entry.log, 'utf8'), time: entry.time };
}

/**
 * Reads a json-file log: the lines present now (honouring tail/since/until), then,
 * when following, the lines appended until `isDone()` says the container's output has
 * ended and the file has been read to its end, or the signal aborts.
 */
export async function* readLog(
  file: string,
  options: LogsOptions,
  follow: { isDone: () => boolean; onDone: (cb: () => void) => () => void } | undefined,
): AsyncGenerator<LogLine> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    text = '';
  }
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  let offset = Buffer.byteLength(complete);
  let entries = complete
    .split('\n')
    .map(parseEntry)
    .filter((e): e is JsonLogEntry => !!e && accept(e, options));
  if (options.tail !== undefined && options.tail !== 'all') entries = options.tail <= 0 ? [] : entries.slice(-options.tail);
  for (const e of entries) yield toLine(e);
  if (!follow || options.signal?.aborted) return;

  let wake: (() => void) | undefined;
  const poke = () => wake?.();
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(file, poke);
  } catch {
    watcher = undefined; // the file does not exist yet: rely on the done signal and the poll below
  }
  const stopDone = follow.onDone(poke);
  options.signal?.addEventListener('abort', poke);
  const timer = setInterval(poke, 250);
  let partial = '';
  try {
    for (;;) {
      const done = follow.isDone();
      const chunk = await readFrom(file, offset);
      offset += chunk.length;
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const raw of lines) {
        const e = parseEntry(raw);
        if (e && accept(e, options)) yield toLine(e);
      }
      if (options.signal?.aborted) return;
      if (done && chunk.length === 0) return;
      if (chunk.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    clearInterval(timer);
    watcher?.close();
    stopDone();
    options.signal?.removeEventListener('abort', poke);
  }
}

async function readFrom(file: string, offset: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  try {
    for await (const part of createReadStream(file, { start: offset })) parts.push(part as Buffer);
  } catch {
    return Buffer.alloc(0);
  }
  return Buffer.concat(parts);
}
