/**
 * The shell patterns of `${x#p}`, `${x%p}` and `${x/p/r}`: `*` any run of characters,
 * `?` one character, `\` before `*`, `?` or `\` makes it literal (`\}` and `\/` only
 * protect the `${}` syntax), no bracket expressions; like Go's regexp (which BuildKit
 * compiles them to), `*` and `?` do not match a newline.
 *
 * Matched by simulating the pattern as a small automaton, in time proportional to the
 * value's length times the pattern's, never by a backtracking RegExp: the pattern and the
 * value both come from the Dockerfile, and `${x#*a*a*a*a*b}` must not stall the daemon.
 */
type Token = { kind: 'star' } | { kind: 'any' } | { kind: 'char'; ch: string };

/** A compiled pattern. Throws an Error (Docker's words) for a bad escape. */
export class ShellPattern {
  private constructor(private readonly tokens: readonly Token[]) {}

  static compile(pattern: string): ShellPattern {
    const tokens: Token[] = [];
    const chars = [...pattern];
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i]!;
      if (c === '*') tokens.push({ kind: 'star' });
      else if (c === '?') tokens.push({ kind: 'any' });
      else if (c === '\\') {
        const next = chars[i + 1];
        if (next === '}' || next === '/') continue;
        if (next !== '*' && next !== '?' && next !== '\\') {
          throw new Error(`invalid pattern (${pattern}) in substitution: invalid escape '\\${next ?? ''}'`);
        }
        tokens.push({ kind: 'char', ch: next });
        i++;
      } else tokens.push({ kind: 'char', ch: c });
    }
    return new ShellPattern(tokens);
  }

  /** The same pattern read backwards (for suffix matching on a reversed value). */
  reversed(): ShellPattern {
    return new ShellPattern([...this.tokens].reverse());
  }

  /** `value` without the shortest (or, `longest`, the longest) prefix the pattern matches. */
  trimPrefix(value: string, longest: boolean): string {
    const chars = [...value];
    const ends = this.anchoredEnds(chars, 0);
    if (ends.first === undefined) return value;
    return chars.slice(longest ? ends.last : ends.first).join('');
  }

  /** `value` without the shortest (or longest) suffix the pattern matches. */
  trimSuffix(value: string, longest: boolean): string {
    const reversedValue = [...value].reverse().join('');
    return [...this.reversed().trimPrefix(reversedValue, longest)].reverse().join('');
  }

  /** Replace the leftmost (longest) match, or with `all` every non-overlapping match. */
  replace(value: string, replacement: string, all: boolean): string {
    const chars = [...value];
    let out = '';
    let copied = 0;
    let from = 0;
    let previousEnd = -1;
    while (from <= chars.length) {
      const match = this.search(chars, from);
      if (!match) break;
      const [start, end] = match;
      if (start === end && start === previousEnd) {
        // An empty match right after the previous match is skipped, as in Go.
        from = start + 1;
        continue;
      }
      out += chars.slice(copied, start).join('') + replacement;
      copied = end;
      previousEnd = end;
      from = end === start ? end + 1 : end;
      if (!all) break;
    }
    return out + chars.slice(copied).join('');
  }

  private closure(states: Map<number, number>): Map<number, number> {
    // A star may match nothing: from a star's state, the next state is active too.
    for (let j = 0; j < this.tokens.length; j++) {
      const start = states.get(j);
      if (start !== undefined && this.tokens[j]!.kind === 'star') {
        const next = states.get(j + 1);
        if (next === undefined || start < next) states.set(j + 1, start);
      }
    }
    return states;
  }

  private step(states: Map<number, number>, ch: string): Map<number, number> {
    const next = new Map<number, number>();
    const keep = (state: number, start: number) => {
      const known = next.get(state);
      if (known === undefined || start < known) next.set(state, start);
    };
    for (const [j, start] of states) {
      const token = this.tokens[j];
      if (!token) continue;
      if (token.kind === 'star') {
        if (ch !== '\n') keep(j, start);
      } else if (token.kind === 'any') {
        if (ch !== '\n') keep(j + 1, start);
      } else if (token.ch === ch) keep(j + 1, start);
    }
    return this.closure(next);
  }

  /** The shortest and longest ends of a match that starts at `start`. */
  private anchoredEnds(chars: string[], start: number): { first?: number; last?: number } {
    const accept = this.tokens.length;
    let states = this.closure(new Map([[0, start]]));
    let first: number | undefined;
    let last: number | undefined;
    for (let i = start; ; i++) {
      if (states.has(accept)) {
        first ??= i;
        last = i;
      }
      if (i === chars.length || states.size === 0) break;
      states = this.step(states, chars[i]!);
    }
    return { first, last };
  }

  /** The leftmost match at or after `from`, extended as far as it goes: [start, end). */
  private search(chars: string[], from: number): [number, number] | undefined {
    const accept = this.tokens.length;
    let states = new Map<number, number>();
    let best: [number, number] | undefined;
    for (let i = from; ; i++) {
      if (!best) {
        const known = states.get(0);
        if (known === undefined) states.set(0, i);
        states = this.closure(states);
      }
      const acceptStart = states.get(accept);
      if (acceptStart !== undefined && (!best || acceptStart <= best[0])) best = [acceptStart, i];
      if (best) {
        // Only the threads of the leftmost match may still make it longer.
        for (const [j, s] of states) if (s > best[0]) states.delete(j);
      }
      if (i === chars.length || states.size === 0) break;
      states = this.step(states, chars[i]!);
    }
    return best;
  }
}
