import { DockerfileError, type DockerfileWarning } from './errors.js';
import { extractFlags } from './flags.js';
import { ShellLexer, ShellSyntaxError, variables } from './shell-lexer.js';

/** A parser directive from the top of the file (`# syntax=…`, `# escape=…`, `# check=…`). */
export interface Directive {
  name: 'syntax' | 'escape' | 'check';
  value: string;
  line: number;
}

/** A here-document attached to an instruction (`RUN <<EOF`, `COPY <<-"EOF" /dest`). */
export interface Heredoc {
  /** The delimiter word, quotes removed (`EOF`); COPY uses it as the file's name. */
  name: string;
  /** The file descriptor before `<<` (`3<<EOF`), 0 when none was written. */
  fileDescriptor: number;
  /** False when any part of the delimiter was quoted: the content is then taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from every content line (and the delimiter line). */
  chomp: boolean;
  /** The lines between the instruction and the delimiter, each with its line ending, as written. */
  content: string;
}

/** One instruction as read from the file: continuations joined, comments gone. */
export interface LogicalLine {
  /** The instruction's text, continuation characters removed and lines joined. */
  text: string;
  startLine: number;
  endLine: number;
  heredocs: Heredoc[];
}

/** What `readLogicalLines` returns: the directives in force and the instructions' lines. */
export interface LogicalLines {
  directives: Directive[];
  /** `\` or `` ` `` (from `# escape=`). */
  escape: string;
  lines: LogicalLine[];
  warnings: DockerfileWarning[];
}

const directivePattern = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const heredocWordPattern = /^(\d*)<<(-?)\s*([^<]*)$/;
/** Instructions that may carry heredocs (and ONBUILD, when its trigger is one of them). */
const heredocInstructions = new Set(['add', 'copy', 'run']);

/**
 * Parser directives: only at the very top, each line `# name=value`; the first line that
 * is not one (an instruction, an empty line, any other comment) ends them. `check` is
 * accepted and ignored, as the classic builder ignores BuildKit's lint configuration.
 */
class DirectiveReader {
  private done = false;
  private readonly seen = new Set<string>();
  readonly directives: Directive[] = [];
  escapeChar = '\\';
  constructor(private readonly file: string) {}

  /** True when the line was a directive. */
  read(line: string, lineNumber: number): boolean {
    if (this.done) return false;
    if (!line.startsWith('#')) {
      this.done = true;
      return false;
    }
    const m = directivePattern.exec(line.slice(1).replace(/^\s+/u, ''));
    const name = m?.[1]?.toLowerCase();
    if (!m || (name !== 'syntax' && name !== 'escape' && name !== 'check')) {
      this.done = true;
      return false;
    }
    if (this.seen.has(name)) throw new DockerfileError(this.file, lineNumber, lineNumber, `only one ${name} parser directive can be used`);
    this.seen.add(name);
    const value = m[2]!;
    if (name === 'escape') {
      if (value !== '`' && value !== '\\') {
        throw new DockerfileError(this.file, lineNumber, lineNumber, `invalid escape token '${value}' does not match \` or \\`);
      }
      this.escapeChar = value;
    }
    this.directives.push({ name, value, line: lineNumber });
    return true;
  }
}

const trimNewline = (line: string) => line.replace(/[\r\n]+$/, '');
const trimLeft = (line: string) => line.replace(/^\s+/u, '');
const isComment = (line: string) => trimLeft(line).startsWith('#');

/**
 * Read a Dockerfile's text into instructions' lines with BuildKit's rules:
 * - a byte-order mark on the first line is dropped;
 * - `#` starts a comment only at the start of a line (after blanks), also between
 *   continuation lines; elsewhere it is text;
 * - the escape character as the last non-blank character continues the line (unless it
 *   is itself escaped); blank lines inside a continuation are skipped, with Docker's
 *   warning; continuation lines keep their leading blanks;
 * - for ADD, COPY and RUN (also under ONBUILD), each `<<WORD` / `<<-WORD` in the line opens a
 *   heredoc whose content is the following lines up to the one that is WORD (after
 *   leading tabs for `<<-`); several heredocs on a line are read one after the other.
 * Throws DockerfileError for a bad directive or an unterminated heredoc.
 */
export function readLogicalLines(text: string, file = 'Dockerfile'): LogicalLines {
  const physical = splitLines(text.startsWith('\uFEFF') ? text.slice(1) : text);
  const directives = new DirectiveReader(file);
  const warnings: DockerfileWarning[] = [];
  const lines: LogicalLine[] = [];
  let i = 0;
  const continuation = () => continuationPattern(directives.escapeChar);

  // processLine: the line without its ending (and its leading blanks on a first line), as
  // the directive reader sees it; a comment line reads as empty.
  const processLine = (raw: string, lineNumber: number, stripLeft: boolean): { text: string; directive: boolean } => {
    let line = trimNewline(raw);
    if (stripLeft) line = trimLeft(line);
    const directive = directives.read(line, lineNumber);
    return { text: isComment(line) ? '' : line, directive };
  };

  while (i < physical.length) {
    const startLine = i + 1;
    const first = processLine(physical[i]!, startLine, true);
    i++;
    let { text: chunk, done } = trimContinuation(first.text, continuation());
    if (done && chunk.length === 0) continue;
    let joined = chunk;
    let emptyContinuation = false;
    while (!done && i < physical.length) {
      const raw = physical[i]!;
      const { text: processed } = processLine(raw, i + 1, false);
      i++;
      if (isComment(raw)) continue;
      if (trimLeft(trimNewline(processed)).length === 0) {
        emptyContinuation = true;
        continue;
      }
      ({ text: chunk, done } = trimContinuation(processed, continuation()));
      joined += chunk;
    }
    let endLine = i;
    if (emptyContinuation) {
      warnings.push({
        message: `Empty continuation line found in: ${joined}. Empty continuation lines will become errors in a future release`,
        line: endLine,
      });
    }

    const heredocs: Heredoc[] = [];
    if (joined.includes('<<') && canContainHeredoc(joined, directives.escapeChar)) {
      let words: Heredoc[];
      try {
        words = heredocsInLine(joined);
      } catch (err) {
        if (err instanceof ShellSyntaxError) throw new DockerfileError(file, startLine, endLine, err.message);
        throw err;
      }
      for (const heredoc of words) {
        let content = '';
        let terminated = false;
        while (i < physical.length) {
          const raw = physical[i]!;
          i++;
          endLine = i;
          let candidate = trimNewline(raw);
          if (heredoc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === heredoc.name) {
            terminated = true;
            break;
          }
          content += raw;
        }
        if (!terminated) throw new DockerfileError(file, startLine, endLine, 'unterminated heredoc');
        heredocs.push({ ...heredoc, content });
      }
    }
    lines.push({ text: joined, startLine, endLine, heredocs });
  }
  return { directives: directives.directives, escape: directives.escapeChar, lines, warnings };
}

/** Lines with their endings kept (heredoc content keeps them). */
function splitLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      if (start < text.length) out.push(text.slice(start));
      return out;
    }
    out.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
}

/** The escape character at the end of a line (not itself escaped), or alone on the line. */
function continuationPattern(escapeChar: string): RegExp {
  const e = escapeChar === '\\' ? '\\\\' : escapeChar;
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

function trimContinuation(line: string, pattern: RegExp): { text: string; done: boolean } {
  if (pattern.test(line)) return { text: line.replace(pattern, '$1'), done: false };
  return { text: line, done: true };
}

/**
 * ADD, COPY and RUN (also as ONBUILD's trigger) take heredocs, but not in their JSON
 * (exec) form, where `<<EOF` is a plain argument.
 */
function canContainHeredoc(line: string, escapeChar: string): boolean {
  const split = (text: string) => /^([^\t\v\f\r ]*)[\t\v\f\r ]*([\s\S]*)$/.exec(text.trim())!;
  let [, keyword, rest] = split(line);
  if (keyword!.toLowerCase() === 'onbuild') [, keyword, rest] = split(extractFlags(rest!, escapeChar).rest);
  if (!heredocInstructions.has(keyword!.toLowerCase())) return false;
  return !isJsonStringArray(extractFlags(rest!, escapeChar).rest);
}

function isJsonStringArray(text: string): boolean {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[')) return false;
  try {
    const value: unknown = JSON.parse(trimmed);
    return Array.isArray(value);
  } catch {
    return false;
  }
}

/** The lexer settings BuildKit uses to find heredoc words: everything kept as written. */
const heredocFinder = new ShellLexer('\\', { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
const unquotedWord = new ShellLexer('\\', { skipUnsetEnv: true });
const quotedWord = new ShellLexer('\\', { rawQuotes: true, skipUnsetEnv: true });
const noVariables = variables({});

/** The heredocs a line opens, in order, without their content yet. */
export function heredocsInLine(line: string): Heredoc[] {
  let words: string[];
  try {
    words = heredocFinder.processWords(line, noVariables);
  } catch {
    // BuildKit ignores a line its lexer cannot split here: it has no heredocs then.
    return [];
  }
  const out: Heredoc[] = [];
  for (const word of words) {
    const heredoc = parseHeredocWord(word);
    if (heredoc) out.push(heredoc);
  }
  return out;
}

/**
 * `<<EOF`, `<<-EOF`, `3<<"EOF"` as a heredoc (content empty), or undefined for any other
 * word. The delimiter's quotes are removed; quoting any part of it turns expansion off.
 */
export function parseHeredocWord(word: string): Heredoc | undefined {
  const m = heredocWordPattern.exec(word);
  if (!m || m[3] === '') return undefined;
  const rest = m[3]!;
  const plain = unquotedWord.processWords(rest, noVariables);
  if (plain.length !== 1) return undefined;
  const raw = quotedWord.processWords(rest, noVariables);
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return {
    name: plain[0]!,
    fileDescriptor: m[1] === '' ? 0 : Number(m[1]),
    expand: quotes(plain[0]!) === quotes(raw[0] ?? ''),
    chomp: m[2] === '-',
    content: '',
  };
}

/** The content of a `<<-` heredoc: leading tabs removed from every line. */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}
