import { InvalidArgument } from '@berth/core';

/**
 * Go's `path/filepath.Match` patterns, which Docker uses for COPY/ADD wildcards and (with
 * `**` added) for `.dockerignore`:
 * - `*` any run of characters but `/`; `?` one character but `/`;
 * - `[...]` a class: optional `^` to negate, characters and `lo-hi` ranges, each possibly
 *   escaped with `\`; `-` and `]` must be escaped inside it, and an empty or unclosed
 *   class is a bad pattern (a class matches `/` too, as in Go);
 * - `\c` the character c itself.
 * Patterns are compiled to anchored JavaScript regular expressions; every literal is
 * written as a `\u{…}` escape, so nothing in a pattern is read as regular-expression syntax.
 */

/** Characters that make a COPY source a wildcard (Docker's `containsWildcards`). */
export function hasWildcards(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}

/** A bad pattern, as Go's `filepath.ErrBadPattern`, naming it. */
function badPattern(pattern: string, why: string): InvalidArgument {
  return new InvalidArgument(`syntax error in pattern ${JSON.stringify(pattern)}: ${why}`);
}

function literal(ch: string): string {
  return `\\u{${ch.codePointAt(0)!.toString(16)}}`;
}

/**
 * The regular-expression source of `pattern` (without anchors). `doubleStar` turns on
 * `.dockerignore`'s `**`: any number of path components, `**` followed by `/` included,
 * and `**` at the end matching everything below.
 */
export function patternSource(pattern: string, doubleStar: boolean): string {
  const chars = Array.from(pattern);
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      if (doubleStar && chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++;
        out += i + 1 >= chars.length ? '.*' : '(?:.*/)?';
      } else {
        out += '[^/]*';
      }
    } else if (ch === '?') {
      out += '[^/]';
    } else if (ch === '\\') {
      const next = chars[i + 1];
      if (next === undefined) throw badPattern(pattern, 'trailing backslash');
      out += literal(next);
      i++;
    } else if (ch === '[') {
      const { source, end } = characterClass(pattern, chars, i + 1);
      out += source;
      i = end;
    } else {
      out += literal(ch);
    }
  }
  return out;
}

/** The class starting after `[` at `start`: its source and the index of its `]`. */
function characterClass(pattern: string, chars: string[], start: number): { source: string; end: number } {
  let i = start;
  let negated = false;
  if (chars[i] === '^') {
    negated = true;
    i++;
  }
  const one = (): string => {
    const c = chars[i];
    if (c === undefined) throw badPattern(pattern, 'unclosed character class');
    if (c === '-' || c === ']') throw badPattern(pattern, `unescaped ${c} in character class`);
    if (c === '\\') {
      i++;
      const escaped = chars[i];
      if (escaped === undefined) throw badPattern(pattern, 'unclosed character class');
      i++;
      return escaped;
    }
    i++;
    return c;
  };
  let body = '';
  let ranges = 0;
  while (chars[i] !== ']' || ranges === 0) {
    if (chars[i] === ']' && ranges === 0) throw badPattern(pattern, 'empty character class');
    const lo = one();
    if (chars[i] === '-') {
      i++;
      const hi = one();
      if (hi.codePointAt(0)! < lo.codePointAt(0)!) throw badPattern(pattern, `range ${lo}-${hi} out of order`);
      body += `${literal(lo)}-${literal(hi)}`;
    } else {
      body += literal(lo);
    }
    ranges++;
    if (chars[i] === undefined) throw badPattern(pattern, 'unclosed character class');
  }
  return { source: `[${negated ? '^' : ''}${body}]`, end: i };
}

/** A compiled Go `filepath.Match` pattern: `test(name)` is Go's `Match(pattern, name)`. */
export function compileGoPattern(pattern: string): RegExp {
  return new RegExp(`^${patternSource(pattern, false)}$`, 'su');
}

/** Go's `filepath.Match(pattern, name)`; a bad pattern throws an InvalidArgument naming it. */
export function goMatch(pattern: string, name: string): boolean {
  return compileGoPattern(pattern).test(name);
}
