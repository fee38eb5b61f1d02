import { InvalidArgument } from '@berth/core';
import { cleanPath } from './clean-path.js';
import { patternSource } from './go-pattern.js';

/**
 * The lines of a `.dockerignore` file as Docker reads them (moby's `ignorefile.ReadAll`):
 * a UTF-8 byte-order mark on the first line dropped; a line starting with `#` is a
 * comment (only in the first column); the rest trimmed of white space, empty lines
 * dropped; a leading `!` kept as the exception marker while what follows it is cleaned
 * (`filepath.Clean`) and loses a leading `/`, so `/a`, `./a` and `a//b/..` all mean `a`.
 */
export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    patterns.push(invert ? `!${pattern}` : pattern);
  }
  return patterns;
}

interface CompiledPattern {
  text: string;
  exclusion: boolean;
  test: (path: string) => boolean;
}

/**
 * How patternmatcher tests one cleaned pattern. A leading `**` followed by nothing but
 * literal characters is a plain suffix test there, not the regular expression: `**.log`
 * matches `a/b.log`, and a leading `**` then `/name` matches `name` at any depth, the
 * root included. Every other pattern behaves as its regular expression.
 */
function compileIgnorePattern(text: string): (path: string) => boolean {
  const regex = new RegExp(`^${patternSource(text, true)}$`, 'su');
  const rest = text.slice(2);
  if (text.startsWith('**') && rest !== '' && !/[*?[\]\\]/.test(rest)) {
    return (path) => path.endsWith(rest) || (rest.startsWith('/') && path === rest.slice(1));
  }
  return (path) => regex.test(path);
}

/**
 * Decides which paths of a context `.dockerignore` leaves out, with Docker's semantics
 * (moby/patternmatcher): patterns are Go `filepath.Match` patterns plus `**` (any number
 * of directories), matched against the whole slash-separated path relative to the
 * context root; a pattern that matches a directory matches everything below it; lines
 * are read in order and the last one that matches decides, `!pattern` re-including what
 * earlier lines excluded.
 *
 * Lifecycle: built once per context from the file's lines; immutable, cheap to query.
 */
export class IgnoreMatcher {
  private readonly patterns: CompiledPattern[];

  /** Compile the patterns; a bad pattern (or a lone `!`) is an InvalidArgument naming it. */
  constructor(patterns: readonly string[]) {
    this.patterns = [];
    for (const raw of patterns) {
      let text = raw.trim();
      if (text === '') continue;
      const exclusion = text.startsWith('!');
      if (exclusion) {
        text = text.slice(1);
        if (text === '') throw new InvalidArgument('illegal exclusion pattern: "!" in .dockerignore');
      }
      text = cleanPath(text);
      this.patterns.push({ text, exclusion, test: compileIgnorePattern(text) });
    }
  }

  /** No patterns: nothing is ignored (a walk can skip the checks). */
  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Whether any pattern is an exception: a walk must then look inside excluded directories. */
  get hasExceptions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  /**
   * Whether `file` (relative to the context root, slash-separated) is left out, because
   * it or one of its parent directories matches (patternmatcher's `MatchesOrParentMatches`).
   */
  ignores(file: string): boolean {
    const cleaned = cleanPath(file.replace(/^\/+/, ''));
    // The context root itself is never ignored (patternmatcher: "don't let them exclude everything").
    if (cleaned === '.') return false;
    const parents: string[] = [];
    const parts = cleaned.split('/');
    for (let i = 1; i < parts.length; i++) parents.push(parts.slice(0, i).join('/'));
    let matched = false;
    for (const pattern of this.patterns) {
      // An inclusion cannot change an already ignored file, an exception an unignored one.
      if (pattern.exclusion !== matched) continue;
      const match = pattern.test(cleaned) || parents.some((parent) => pattern.test(parent));
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }
}
