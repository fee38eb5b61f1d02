import type { JsonMessage } from '@berth/client';
import type { Output } from '../io.js';

/**
 * Prints a pull's or push's JSON-lines progress. Not on a terminal: one line per message
 * (`id: status progress`), as docker does when piped. On a terminal: one line per layer,
 * rewritten in place as its status and bar change (cursor up to the layer's line, erase
 * it, write, cursor back down), lines without an id printed below as they come.
 */
export class ProgressDisplay {
  private readonly lineOf = new Map<string, number>();
  private lines = 0;

  constructor(
    private readonly out: Output,
    private readonly terminal = out.isTTY === true,
  ) {}

  show(m: JsonMessage): void {
    if (m.stream !== undefined) {
      this.out.write(m.stream);
      return;
    }
    if (m.status === undefined) return;
    const text = `${m.id ? `${m.id}: ` : ''}${m.status}${m.progress ? ` ${m.progress}` : ''}`;
    if (!this.terminal) {
      this.out.write(`${text}\n`);
      return;
    }
    const line = m.id !== undefined ? this.lineOf.get(m.id) : undefined;
    if (line === undefined) {
      if (m.id !== undefined) this.lineOf.set(m.id, this.lines);
      this.lines++;
      this.out.write(`\x1b[2K\r${text}\n`);
      return;
    }
    const up = this.lines - line;
    this.out.write(`\x1b[${up}A\x1b[2K\r${text}\r\x1b[${up}B`);
  }
}
