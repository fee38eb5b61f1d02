import { constants } from 'node:os';
import type { DaemonEvent } from '@berth/client';
import { type Command, PROG } from '../command.js';
import { StatusError } from '../errors.js';
import { Template } from '../format/template.js';
import { apiTimestamp } from './logs.js';
import { parseFilters } from './ps.js';

/** An event as `--format` templates see it: docker's field names (`.Action`, `.Actor.Attributes.name`, `.TimeNano`). */
class EventView {
  constructor(private readonly e: DaemonEvent) {}
  get Status(): string {
    return this.e.status ?? '';
  }
  get ID(): string {
    return this.e.id ?? '';
  }
  get From(): string {
    return this.e.from ?? '';
  }
  get Type(): string {
    return this.e.Type;
  }
  get Action(): string {
    return this.e.Action;
  }
  get Actor(): DaemonEvent['Actor'] {
    return this.e.Actor;
  }
  get Scope(): string {
    return this.e.scope;
  }
  get Time(): number {
    return this.e.time;
  }
  get TimeNano(): string {
    return this.e.timeNanoExact.toString();
  }
  /** `{{json .}}`: the event as the daemon sent it. */
  toJSON(): Record<string, unknown> {
    const { timeNanoExact: _, ...wire } = this.e;
    return wire;
  }
}

/**
 * A time in nanoseconds as Go's `2006-01-02T15:04:05.000000000Z07:00` (the docker CLI's
 * RFC3339NanoFixed) in the local zone: how `docker events` starts each line.
 */
export function rfc3339NanoFixed(nanos: bigint): string {
  const d = new Date(Number(nanos / 1_000_000n));
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const offsetMin = -d.getTimezoneOffset();
  const zone =
    offsetMin === 0 ? 'Z' : `${offsetMin < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(offsetMin) / 60))}:${pad(Math.abs(offsetMin) % 60)}`;
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${fraction}${zone}`
  );
}

/** docker's default line: time, type, action, actor id and the attributes sorted by key. */
export function eventLine(e: DaemonEvent): string {
  const attributes = Object.keys(e.Actor.Attributes)
    .sort()
    .map((k) => `${k}=${e.Actor.Attributes[k]}`);
  const tail = attributes.length ? ` (${attributes.join(', ')})` : '';
  return `${rfc3339NanoFixed(e.timeNanoExact)} ${e.Type} ${e.Action} ${e.Actor.ID}${tail}\n`;
}

export const eventsCommand: Command = {
  name: 'events',
  usage: '[OPTIONS]',
  summary: 'Get real time events from the server',
  aliases: `${PROG} system events, ${PROG} events`,
  flags: [
    { long: 'filter', short: 'f', kind: 'list', meta: 'filter', help: 'Filter output based on conditions provided' },
    { long: 'format', kind: 'string', help: "Format output using a custom template: 'json', 'TEMPLATE'" },
    { long: 'since', kind: 'string', help: 'Show all events created since timestamp' },
    { long: 'until', kind: 'string', help: 'Stream events until this timestamp' },
  ],
  maxArgs: 0,
  /**
   * Prints the events the daemon sends (replayed from `--since`, then live) until
   * `--until` (the daemon ends the stream: status 0) or a signal (Ctrl-C: 128 + its number).
   */
  async run(ctx, flags) {
    const now = ctx.io.now();
    const since = flags.string('since');
    const until = flags.string('until');
    const format = flags.string('format');
    let template: Template | undefined;
    if (format) {
      try {
        template = Template.parse((format === 'json' ? '{{json .}}' : format).replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
      } catch (err) {
        throw new StatusError(`template parsing error: ${(err as Error).message}`, 1);
      }
    }
    const stop = new AbortController();
    let signalled = 0;
    const unsubscribe = ctx.io.onSignal((signal) => {
      signalled = 128 + (constants.signals[signal] ?? 0);
      stop.abort();
    });
    try {
      await ctx.client().events(
        {
          since: since ? apiTimestamp(since, now, 'since') : undefined,
          until: until ? apiTimestamp(until, now, 'until') : undefined,
          filters: parseFilters(flags.list('filter')),
        },
        (e) => ctx.io.stdout.write(template ? `${template.render(new EventView(e))}\n` : eventLine(e)),
        stop.signal,
      );
    } finally {
      unsubscribe();
    }
    return signalled;
  },
};
