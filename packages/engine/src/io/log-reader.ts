import { promises as fs, watch } from 'node:fs';
import * as path from 'node:path';
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

/** The rotated copies of `file` (`<file>.1`, `.2`, ...), oldest first. */
async function rotatedFiles(file: string): Promise<string[]> {
  const base = path.basename(file);
  let names: string[];
  try {
    names = await fs.readdir(path.dirname(file));
  } catch {
    return [];
  }
  return names
    .map((n) => (n.startsWith(`${base}.`) ? Number(n.slice(base.length + 1)) : Number.NaN))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => b - a)
    .map((n) => `${file}.${n}`);
}

const chunkSize = 64 * 1024;

/**
 * An open log file read in chunks from `offset`, cut into complete lines. Holding the
 * file open is what follows a rotation: the shim renames it away and writes a new one,
 * and this one is still read to its end.
 */
class LogFile {
  offset = 0;
  private partial = '';
  private readonly buffer = Buffer.allocUnsafe(chunkSize);

  private constructor(readonly handle: fs.FileHandle) {}

  static async open(file: string): Promise<LogFile | undefined> {
    try {
      return new LogFile(await fs.open(file, 'r'));
    } catch {
      return undefined;
    }
  }

  /** The next complete lines; an empty array at the end of what is written so far. */
  async lines(): Promise<string[]> {
    const { bytesRead } = await this.handle.read(this.buffer, 0, chunkSize, this.offset);
    if (bytesRead === 0) {
      // Emptied in place (one file, max-file 1): start again from its beginning.
      if ((await this.handle.stat()).size < this.offset) {
        this.offset = 0;
        this.partial = '';
      }
      return [];
    }
    this.offset += bytesRead;
    const lines = (this.partial + this.buffer.toString('utf8', 0, bytesRead)).split('\n');
    this.partial = lines.pop() ?? '';
    return lines;
  }

  /** True when `file` is no longer this file (it was rotated away, or is gone). */
  async replaced(file: string): Promise<boolean> {
    try {
      const [now, mine] = await Promise.all([fs.stat(file), this.handle.stat()]);
      return now.ino !== mine.ino || now.dev !== mine.dev;
    } catch {
      return false; // no new file yet
    }
  }

  close(): Promise<void> {
    return this.handle.close().catch(() => {});
  }
}

/**
 * The file written after `held` once `held` was rotated away: the next newer one in the
 * chain `<file>.N … <file>.1, <file>` (several rotations may have passed since it was
 * last read, and each file in between holds lines). When `held` itself is gone (rotated
 * past max-file), every file left is newer, so the oldest is next.
 */
async function nextAfter(file: string, held: LogFile): Promise<string> {
  const chain = [...(await rotatedFiles(file)), file];
  const mine = await held.handle.stat();
  for (let i = 0; i < chain.length - 1; i++) {
    try {
      const st = await fs.stat(chain[i]!);
      if (st.ino === mine.ino && st.dev === mine.dev) return chain[i + 1]!;
    } catch {}
  }
  return chain[0]!;
}

/**
 * Reads a json-file log: the lines present now across its rotated copies, oldest first
 * (honouring tail/since/until; only `tail` lines are held in memory, never the files),
 * then, when following, the lines appended until `isDone()` says the container's output
 * has ended and the file has been read to its end, or the signal aborts. A rotation
 * while following loses nothing: the file held open is read to its end before the new
 * one is opened.
 */
export async function* readLog(
  file: string,
  options: LogsOptions,
  follow: { isDone: () => boolean; onDone: (cb: () => void) => () => void } | undefined,
): AsyncGenerator<LogLine> {
  const tail = options.tail === undefined || options.tail === 'all' ? undefined : Math.max(0, options.tail);
  // The current file is opened first, so a rotation meanwhile cannot take lines away from
  // under us (they would be read twice at worst, never lost).
  let current = await LogFile.open(file);
  try {
    const kept: JsonLogEntry[] = [];
    const read = async function* (f: LogFile): AsyncGenerator<JsonLogEntry> {
      for (let lines = await f.lines(); lines.length > 0; lines = await f.lines()) {
        for (const raw of lines) {
          const e = parseEntry(raw);
          if (e && accept(e, options)) yield e;
        }
      }
    };
    const sources: LogFile[] = [];
    for (const old of await rotatedFiles(file)) {
      const f = await LogFile.open(old);
      if (f) sources.push(f);
    }
    if (current) sources.push(current);
    for (const f of sources) {
      for await (const e of read(f)) {
        if (tail === undefined) {
          yield toLine(e);
          continue;
        }
        kept.push(e);
        if (kept.length > tail) kept.shift();
      }
      if (f !== current) await f.close();
    }
    for (const e of kept) yield toLine(e);
    if (!follow || options.signal?.aborted) return;

    let wake: (() => void) | undefined;
    const poke = () => wake?.();
    let watcher: ReturnType<typeof watch> | undefined;
    try {
      watcher = watch(path.dirname(file), poke);
    } catch {
      watcher = undefined; // rely on the done signal and the poll below
    }
    const stopDone = follow.onDone(poke);
    options.signal?.addEventListener('abort', poke);
    const timer = setInterval(poke, 250);
    try {
      for (;;) {
        const done = follow.isDone();
        if (!current) current = await LogFile.open(file);
        let lines = current ? await current.lines() : [];
        if (lines.length === 0 && current && (await current.replaced(file))) {
          lines = await current.lines(); // what was written before the rename
          if (lines.length === 0) {
            const next = await nextAfter(file, current);
            await current.close();
            current = await LogFile.open(next);
            continue;
          }
        }
        for (const raw of lines) {
          const e = parseEntry(raw);
          if (e && accept(e, options)) yield toLine(e);
        }
        if (options.signal?.aborted) return;
        if (done && lines.length === 0) return;
        if (lines.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      clearInterval(timer);
      watcher?.close();
      stopDone();
      options.signal?.removeEventListener('abort', poke);
    }
  } finally {
    await current?.close();
  }
}
