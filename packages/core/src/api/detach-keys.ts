import { InvalidArgument } from '../errors.js';

/*
 * Docker's detach keys, for both ends of an attach: the API (the engine's side of an
 * attach or exec stream) and the berth CLI (a terminal's input). The CLI imports this
 * module alone (`@berth/core/detach-keys`): it needs nothing but core's error classes,
 * so the CLI's start-up takes none of core's DI.
 */

/** Docker's default detach sequence. */
export const defaultDetachKeys = 'ctrl-p,ctrl-q';

/**
 * Docker's detach keys (`--detach-keys`, `detachKeys=`, an exec's `DetachKeys`): a
 * comma-separated sequence of `ctrl-<c>` (c in a-z, @, [, \, ], ^, _) and single
 * characters, `ctrl-p,ctrl-q` by default. Returns the bytes a client types for it.
 */
export function parseDetachKeys(spec: string): Buffer {
  const bytes: number[] = [];
  for (const key of spec.split(',')) {
    const ctrl = /^ctrl-(.)$/.exec(key);
    if (ctrl) {
      const c = ctrl[1]!;
      // ctrl-a..ctrl-z are 1..26; ctrl-@ is 0 and ctrl-[ \ ] ^ _ are 27..31.
      const symbol = '@[\\]^_'.indexOf(c);
      if (c >= 'a' && c <= 'z') bytes.push(c.charCodeAt(0) - 96);
      else if (symbol >= 0) bytes.push(symbol === 0 ? 0 : 26 + symbol);
      else throw invalid(spec);
    } else if (key.length === 1) {
      bytes.push(key.charCodeAt(0));
    } else {
      throw invalid(spec);
    }
  }
  if (bytes.length === 0) throw invalid(spec);
  return Buffer.from(bytes);
}

function invalid(spec: string): InvalidArgument {
  return new InvalidArgument(`Invalid detach keys (${spec}) provided`);
}

/**
 * Watches a client's stdin for the detach sequence, as dockerd's copy of attach input
 * (and the docker CLI's escape proxy) does: bytes that could start the sequence are held
 * back; when the whole sequence comes the client detaches (the sequence is never passed
 * on), and when it does not, the held bytes go on to the process as typed.
 */
export class DetachKeyScanner {
  private matched = 0;

  constructor(private readonly keys: Buffer) {}

  /** What of `data` goes to the process, and whether the sequence was completed. */
  push(data: Buffer): { pass: Buffer; detach: boolean } {
    const out: number[] = [];
    for (let i = 0; i < data.length; i++) {
      const byte = data[i]!;
      if (byte === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { pass: Buffer.from(out), detach: true };
        continue;
      }
      // A mismatch: what was held goes through, then this byte starts over.
      for (let k = 0; k < this.matched; k++) out.push(this.keys[k]!);
      this.matched = 0;
      if (byte === this.keys[0]) {
        this.matched = 1;
        if (this.keys.length === 1) return { pass: Buffer.from(out), detach: true };
      } else out.push(byte);
    }
    return { pass: Buffer.from(out), detach: false };
  }
}
