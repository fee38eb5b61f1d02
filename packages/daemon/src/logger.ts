import type { Logger } from '@berth/core';
import { type LogFormat, type LogLevel, logLevels } from './daemon-config.js';

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go; stderr by default. */
  write?: (line: string) => void;
}

const rank: Record<LogLevel, number> = Object.fromEntries(logLevels.map((l, i) => [l, i])) as Record<LogLevel, number>;

function textValue(value: unknown): string {
  const s = typeof value === 'string' ? value : value instanceof Error ? value.message : JSON.stringify(value);
  if (s === undefined) return '""';
  return /^[\w./:@+,-]+$/.test(s) ? s : JSON.stringify(s);
}

/**
 * berthd's logger: one line per record on stderr, `text` in dockerd's logrus style
 * (`time="…" level=info msg="…" key=value`) or `json` (one object per line). Records
 * below the level are dropped before any formatting, so debug calls cost next to nothing.
 */
export function createLogger(options: LoggerOptions, fields: Record<string, unknown> = {}): Logger {
  const min = rank[options.level];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const emit = (level: LogLevel, message: string, extra?: Record<string, unknown>) => {
    if (rank[level] < min) return;
    const time = new Date().toISOString();
    const all = extra ? { ...fields, ...extra } : fields;
    if (options.format === 'json') {
      const record: Record<string, unknown> = { time, level, msg: message };
      for (const [k, v] of Object.entries(all)) if (v !== undefined) record[k] = v instanceof Error ? v.message : v;
      write(`${JSON.stringify(record)}\n`);
      return;
    }
    let line = `time="${time}" level=${level} msg=${JSON.stringify(message)}`;
    for (const [k, v] of Object.entries(all)) if (v !== undefined) line += ` ${k}=${textValue(v)}`;
    write(`${line}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (more) => createLogger(options, { ...fields, ...more }),
  };
}
