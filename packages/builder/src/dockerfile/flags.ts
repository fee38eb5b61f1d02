import { withSuggestion } from './suggest.js';

/** The kinds of instruction flags: `--link` (bool), `--from=x` (string), `--exclude=x` (repeatable). */
export type FlagKind = 'bool' | 'string' | 'strings';

/** The values of the flags an instruction was given; absent flags are absent. */
export interface FlagValues {
  bools: Map<string, boolean>;
  strings: Map<string, string>;
  lists: Map<string, string[]>;
}

/**
 * Parse an instruction's `--name[=value]` flags against what it accepts, with Docker's
 * rules and words: every flag needs `--`; `--` ends the flags; an unknown flag is
 * `unknown flag: --form (did you mean from?)`; a string flag needs `=value`; a bool
 * takes nothing or `=true|false`; only a repeatable flag may appear twice. Throws an
 * Error whose message is the problem (the caller adds file and line).
 */
export function parseFlags(flags: readonly string[], accepted: Readonly<Record<string, FlagKind>>): FlagValues {
  const values: FlagValues = { bools: new Map(), strings: new Map(), lists: new Map() };
  const used = new Set<string>();
  for (const flag of flags) {
    if (flag === '--') break;
    if (!flag.startsWith('--')) throw new Error(`arg should start with -- : ${flag}`);
    const eq = flag.indexOf('=');
    const flagName = eq < 0 ? flag : flag.slice(0, eq);
    const value = eq < 0 ? '' : flag.slice(eq + 1);
    const name = flagName.slice(2);
    const kind = Object.hasOwn(accepted, name) ? accepted[name] : undefined;
    if (kind === undefined) throw new Error(withSuggestion(`unknown flag: ${flagName}`, name, Object.keys(accepted), true));
    if (used.has(name) && kind !== 'strings') throw new Error(`duplicate flag specified: ${flagName}`);
    used.add(name);
    if (kind === 'bool') {
      if (eq >= 0 && value === '') throw new Error(`missing a value on flag: ${flagName}`);
      const lower = value.toLowerCase();
      if (lower === 'true' || lower === '') values.bools.set(name, true);
      else if (lower === 'false') values.bools.set(name, false);
      else throw new Error(`expecting boolean value for flag ${flagName}, not: ${value}`);
    } else {
      if (eq < 0) throw new Error(`missing a value on flag: ${flagName}`);
      if (kind === 'string') values.strings.set(name, value);
      else values.lists.set(name, [...(values.lists.get(name) ?? []), value]);
    }
  }
  return values;
}

/**
 * Take the leading `--flags` off an instruction's arguments, as BuildKit does before it
 * looks at the arguments: words that start with `--`, with quotes and the escape
 * character honoured inside them; the first word that is not a flag (or a lone `--`)
 * starts the arguments, which are returned as written.
 */
export function extractFlags(text: string, escapeChar: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let pos = 0;
  const isBlank = (ch: string) => /\s/u.test(ch);
  for (;;) {
    while (pos < text.length && isBlank(text[pos]!)) pos++;
    if (pos >= text.length) return { flags, rest: '' };
    if (!text.startsWith('--', pos)) return { flags, rest: text.slice(pos) };
    let word = '';
    let quote = '';
    let blankOk = false;
    for (; pos < text.length; pos++) {
      let ch = text[pos]!;
      if (quote) {
        if (ch === quote) {
          quote = '';
          continue;
        }
      } else {
        if (isBlank(ch)) break;
        if (ch === "'" || ch === '"') {
          quote = ch;
          blankOk = true;
          continue;
        }
      }
      if (ch === escapeChar) {
        if (pos + 1 === text.length) continue;
        pos++;
        ch = text[pos]!;
      }
      word += ch;
    }
    if (word === '--') return { flags, rest: text.slice(pos) };
    if (blankOk || word.length > 0) flags.push(word);
  }
}
