// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${x} is Dockerfile syntax here, not a template
import { ShellPattern } from './shell-pattern.js';

/**
 * The Dockerfile's own word lexer: how the builder (not a shell) expands `$x`, `${x}`
 * and the modifiers `${x:-w}`, `${x-w}`, `${x:+w}`, `${x+w}`, `${x:?msg}`, `${x?msg}`,
 * `${x#pat}`, `${x##pat}`, `${x%pat}`, `${x%%pat}`, `${x/pat/repl}`, `${x//pat/repl}`
 * (BuildKit's set; `${x:#…}` and the like are "unsupported modifier"), and how quotes and
 * the escape character group and protect text. It follows the behaviour of BuildKit's
 * frontend/dockerfile/shell lexer, which the classic builder shares:
 * - outside quotes the escape character makes the next character literal, and a value
 *   substituted for `$x` is split into words at whitespace (EXPOSE and the heredoc
 *   detector use the words; every other instruction takes the single joined result);
 * - `'…'` is literal; `"…"` expands `$` and lets the escape character protect only `"`,
 *   `$` and itself;
 * - a `$` not followed by a name is a literal `$`; an unset variable is empty.
 *
 * A lexer is a value: make one per escape character and per option set, and call it as
 * often as needed (it holds no state between calls).
 */

/** Where the lexer reads variables. `get` returns undefined for an unset variable. */
export interface VariableSource {
  get(name: string): string | undefined;
}

/** A Map as a VariableSource. */
export function variables(map: ReadonlyMap<string, string> | Record<string, string>): VariableSource {
  if (map instanceof Map) return { get: (name) => map.get(name) };
  const record = map as Record<string, string>;
  return { get: (name) => (Object.hasOwn(record, name) ? record[name] : undefined) };
}

/** Options that change what the lexer keeps (BuildKit uses them to find heredoc words). */
export interface ShellLexerOptions {
  /** Keep the quote characters in the result instead of removing them. */
  rawQuotes?: boolean;
  /** Keep the escape characters in the result instead of removing them. */
  rawEscapes?: boolean;
  /** Leave `$x` / `${x…}` as written when `x` is unset, instead of substituting. */
  skipUnsetEnv?: boolean;
}

/** The result of processing one word: the joined text, the words, the variables read. */
export interface ProcessedWord {
  result: string;
  words: string[];
  /** Names that were looked up and found (set). */
  matched: Set<string>;
  /** Names that were looked up and not set. */
  unmatched: Set<string>;
}

/** A syntax or substitution error; the caller adds the file and the line. */
export class ShellSyntaxError extends Error {}

/** A pattern compiled, its bad escape reported as a substitution error. */
function compilePattern(pattern: string): ShellPattern {
  try {
    return ShellPattern.compile(pattern);
  } catch (err) {
    throw new ShellSyntaxError((err as Error).message);
  }
}

const isSpace = (ch: string) => /\s/u.test(ch);
const isLetter = (ch: string) => /\p{L}/u.test(ch);
const isDigit = (ch: string) => /\p{Nd}/u.test(ch);

/** POSIX's special parameters: `$@`, `$*`, `$#`, `$?`, `$-`, `$$`, `$!`, `$0`. */
const specialParameters = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

/** Collects words: characters split at whitespace unless added raw (quoted, escaped). */
class Words {
  private buf = '';
  private inWord = false;
  readonly list: string[] = [];
  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.buf.length > 0) {
        this.list.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else this.addRawChar(ch);
  }
  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }
  addString(text: string): void {
    for (const ch of text) this.addChar(ch);
  }
  addRawString(text: string): void {
    this.buf += text;
    this.inWord = true;
  }
  finish(): string[] {
    if (this.buf.length > 0) {
      this.list.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.list;
  }
}

/** One pass over one input: a cursor over its code points. */
class Pass {
  private readonly chars: string[];
  private pos = 0;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();
  constructor(
    input: string,
    private readonly escapeChar: string,
    private readonly options: ShellLexerOptions,
    private readonly env: VariableSource,
    private rawEscapes: boolean,
  ) {
    this.chars = [...input];
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }
  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  private getEnv(name: string): string | undefined {
    const value = this.env.get(name);
    if (value === undefined) this.unmatched.add(name);
    else this.matched.add(name);
    return value;
  }

  /** Read until `stop` (consumed) or the end; `stop` undefined means the end. */
  processStopOn(stop: string | undefined, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new Words();
      for (;;) {
        const ch = this.peek();
        if (ch === undefined) break;
        if (stop !== undefined && ch === stop) {
          this.next();
          return { result, words: words.finish() };
        }
        if (ch === '$') {
          const value = this.processDollar();
          result += value;
          words.addString(value);
        } else if (ch === '<') {
          const value = this.processPossibleHeredoc();
          result += value;
          words.addRawString(value);
        } else if (ch === "'") {
          const value = this.processSingleQuote();
          result += value;
          words.addRawString(value);
        } else if (ch === '"') {
          const value = this.processDoubleQuote();
          result += value;
          words.addRawString(value);
        } else {
          let c = this.next()!;
          if (c === this.escapeChar) {
            if (this.rawEscapes) {
              words.addRawChar(c);
              result += c;
            }
            const escaped = this.next();
            if (escaped === undefined) break;
            c = escaped;
            words.addRawChar(c);
          } else words.addChar(c);
          result += c;
        }
      }
      if (stop !== undefined) throw new ShellSyntaxError(`unexpected end of statement while looking for matching ${stop}`);
      return { result, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    let result = '';
    const open = this.next()!;
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new ShellSyntaxError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.options.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    let result = '';
    const open = this.next()!;
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new ShellSyntaxError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.next();
        if (this.options.rawQuotes) result += ch;
        return result;
      }
      if (ch === '$') {
        result += this.processDollar();
        continue;
      }
      let c = this.next()!;
      if (c === this.escapeChar) {
        if (this.rawEscapes) result += c;
        const following = this.peek();
        // Inside double quotes the escape protects only `"`, `$` and itself; before
        // anything else it stays as written, and at the very end it is dropped.
        if (following === undefined) continue;
        if (following === '"' || following === '$' || following === this.escapeChar) c = this.next()!;
      }
      result += c;
    }
  }

  private processName(): string {
    let name = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) break;
      if (name.length === 0 && isDigit(ch)) {
        while (this.peek() !== undefined && isDigit(this.peek()!)) name += this.next();
        return name;
      }
      if (name.length === 0 && specialParameters.has(ch)) return this.next()!;
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.getEnv(name);
      if (value === undefined && this.options.skipUnsetEnv) return `$${name}`;
      return value ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === undefined) throw new ShellSyntaxError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ShellSyntaxError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    if (ch === undefined) throw new ShellSyntaxError("syntax error: missing '}'");
    let modifier = ch;
    if (ch === '}') {
      const value = this.getEnv(name);
      if (value === undefined && this.options.skipUnsetEnv) return `\${${name}}`;
      return value ?? '';
    }
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.next();
      if (ch === undefined) throw new ShellSyntaxError("syntax error: missing '}'");
      modifier += ch;
    }
    if (ch === '+' || ch === '-' || ch === '?' || ch === '#' || ch === '%') {
      const patternLike = ch === '#' || ch === '%';
      if (nullIsUnset && patternLike) throw new ShellSyntaxError(`unsupported modifier (${modifier}) in substitution`);
      let word: string;
      try {
        word = this.processStopOn('}', patternLike).result;
      } catch (err) {
        if (this.peek() === undefined) throw new ShellSyntaxError("syntax error: missing '}'");
        throw err;
      }
      const value = this.getEnv(name);
      if (value === undefined && this.options.skipUnsetEnv) return `\${${name}${modifier}${word}}`;
      const unset = value === undefined || (nullIsUnset && value === '');
      switch (ch) {
        case '-':
          return unset ? word : value!;
        case '+':
          return unset ? '' : word;
        case '?':
          if (value === undefined) throw new ShellSyntaxError(`${name}: ${word || 'is not allowed to be unset'}`);
          if (nullIsUnset && value === '') throw new ShellSyntaxError(`${name}: ${word || 'is not allowed to be empty'}`);
          return value;
        default: {
          let pattern = word;
          let greedy = false;
          if (pattern.startsWith(ch)) {
            greedy = true;
            pattern = pattern.slice(1);
          }
          const compiled = compilePattern(pattern);
          return ch === '%' ? compiled.trimSuffix(value ?? '', greedy) : compiled.trimPrefix(value ?? '', greedy);
        }
      }
    }
    if (ch === '/' && !nullIsUnset) {
      const all = this.peek() === '/';
      if (all) this.next();
      let pattern: string;
      try {
        pattern = this.processStopOn('/', true).result;
      } catch (err) {
        if (this.peek() === undefined) throw new ShellSyntaxError("syntax error: missing '/' in ${}");
        throw err;
      }
      let replacement: string;
      try {
        replacement = this.processStopOn('}', true).result;
      } catch (err) {
        if (this.peek() === undefined) throw new ShellSyntaxError("syntax error: missing '}'");
        throw err;
      }
      const value = this.getEnv(name);
      if (value === undefined && this.options.skipUnsetEnv) return `\${${name}/${pattern}/${replacement}}`;
      return compilePattern(pattern).replace(value ?? '', replacement, all);
    }
    throw new ShellSyntaxError(`unsupported modifier (${modifier}) in substitution`);
  }

  private processPossibleHeredoc(): string {
    this.next();
    if (this.peek() !== '<') return '<';
    this.next();
    // `<< EOF` is still a heredoc word: the blanks after `<<` join it.
    let space = '';
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === '\r') space += this.next();
    return `<<${space}`;
  }
}

/** The lexer for one escape character (`\` or `` ` ``) and one set of options. */
export class ShellLexer {
  constructor(
    readonly escapeChar: string = '\\',
    readonly options: ShellLexerOptions = {},
  ) {}

  /** Process `input` into one string and its words; throws ShellSyntaxError. */
  process(input: string, env: VariableSource): ProcessedWord {
    const pass = new Pass(input, this.escapeChar, this.options, env, this.options.rawEscapes ?? false);
    try {
      const { result, words } = pass.processStopOn(undefined, this.options.rawEscapes ?? false);
      return { result, words, matched: pass.matched, unmatched: pass.unmatched };
    } catch (err) {
      if (err instanceof ShellSyntaxError) throw new ShellSyntaxError(`failed to process ${JSON.stringify(input)}: ${err.message}`);
      throw err;
    }
  }

  /** The single expanded word (ENV, LABEL, WORKDIR, COPY sources, ...). */
  processWord(input: string, env: VariableSource): string {
    return this.process(input, env).result;
  }

  /** The expanded words (EXPOSE, heredoc detection). */
  processWords(input: string, env: VariableSource): string[] {
    return this.process(input, env).words;
  }
}
