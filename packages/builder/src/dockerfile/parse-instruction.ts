import { DockerfileError } from './errors.js';
import { extractFlags, type FlagKind, type FlagValues, parseFlags } from './flags.js';
import { parseGoDuration } from './go-duration.js';
import type {
  ArgDeclaration,
  CommandLine,
  CopySource,
  HealthcheckSpec,
  Instruction,
  InstructionBase,
  KeyValue,
  Keyword,
} from './instructions.js';
import { instructionKeywords } from './instructions.js';
import { chompHeredoc, type LogicalLine, parseHeredocWord } from './logical-lines.js';
import { checkRunMountSpec } from './run-mount.js';
import { withSuggestion } from './suggest.js';

/** The flags each instruction accepts; any other is `unknown flag`. */
const acceptedFlags: Record<Keyword, Record<string, FlagKind>> = {
  ADD: { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', unpack: 'bool', exclude: 'strings' },
  ARG: {},
  CMD: {},
  COPY: { chown: 'string', from: 'string', chmod: 'string', link: 'bool', exclude: 'strings', parents: 'bool' },
  ENTRYPOINT: {},
  ENV: {},
  EXPOSE: {},
  FROM: { platform: 'string' },
  HEALTHCHECK: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
  LABEL: {},
  MAINTAINER: {},
  ONBUILD: {},
  RUN: { mount: 'strings', network: 'string' },
  SHELL: {},
  STOPSIGNAL: {},
  USER: {},
  VOLUME: {},
  WORKDIR: {},
};

const whitespace = /[\t\v\f\r ]+/;
const validStageName = /^[a-z][a-z0-9-_.]*$/;

/** A problem found while reading one instruction; the caller gives it file and lines. */
class InstructionProblem extends Error {}

/**
 * Parse one logical line into a typed instruction. `file` names the Dockerfile in
 * errors. Throws DockerfileError (`Dockerfile:7: unknown instruction: COPPY (did you mean
 * COPY?)`, `Dockerfile:3: COPY requires at least two arguments, but only one was
 * provided. Destination could not be determined`, ...).
 */
export function parseInstruction(line: LogicalLine, escapeChar: string, file: string): Instruction {
  try {
    return parseLine(line.text, line, escapeChar, file);
  } catch (err) {
    if (err instanceof DockerfileError) throw err;
    if (err instanceof InstructionProblem || (err instanceof Error && err.constructor === Error)) {
      throw new DockerfileError(file, line.startLine, line.endLine, err.message);
    }
    throw err;
  }
}

function parseLine(text: string, line: LogicalLine, escapeChar: string, file: string): Instruction {
  const trimmed = text.trim();
  const m = /^([^\t\v\f\r ]+)(?:[\t\v\f\r ]+([\s\S]*))?$/.exec(trimmed);
  const word = m?.[1] ?? '';
  const keyword = word.toUpperCase() as Keyword;
  if (!(instructionKeywords as readonly string[]).includes(keyword)) {
    throw new InstructionProblem(withSuggestion(`unknown instruction: ${word}`, word, instructionKeywords, false));
  }
  const { flags: flagWords, rest: afterFlags } = extractFlags(m?.[2] ?? '', escapeChar);
  const rest = afterFlags.trim();
  const base: InstructionBase = { keyword, code: trimmed, location: { startLine: line.startLine, endLine: line.endLine } };
  const flags = (): FlagValues => parseFlags(flagWords, acceptedFlags[keyword]);

  switch (keyword) {
    case 'FROM': {
      const args = whitespaceWords(rest);
      const f = flags();
      let name: string | undefined;
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        name = args[2]!.toLowerCase();
        if (!validStageName.test(name)) {
          throw new InstructionProblem(
            `invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`,
          );
        }
      } else if (args.length !== 1) throw new InstructionProblem('FROM requires either one or three arguments');
      return { ...base, keyword, image: args[0]!, name, platform: f.strings.get('platform') };
    }
    case 'RUN': {
      const f = flags();
      const command = commandLine(rest, line, keyword);
      if (command.args.length === 0 || (!command.json && command.args[0] === '')) {
        throw new InstructionProblem('RUN requires at least one argument');
      }
      const mounts = (f.lists.get('mount') ?? []).map((spec) => {
        // Checked now as far as possible; fields with variables are checked again once
        // the evaluator has expanded them.
        checkRunMountSpec(spec);
        return { spec };
      });
      const network = f.strings.get('network');
      if (network !== undefined && network !== 'default' && network !== 'none' && network !== 'host') {
        throw new InstructionProblem(`invalid network mode ${JSON.stringify(network)}`);
      }
      return { ...base, keyword, command, mounts, network };
    }
    case 'CMD':
    case 'ENTRYPOINT':
      flags();
      return { ...base, keyword, command: commandLine(rest, line, keyword) } as Instruction;
    case 'SHELL': {
      flags();
      const command = commandLine(rest, line, keyword);
      if (command.args.length === 0 || (!command.json && command.args[0] === '')) {
        throw new InstructionProblem('SHELL requires at least one argument');
      }
      if (!command.json) throw new InstructionProblem('SHELL requires the arguments to be in JSON form');
      return { ...base, keyword, shell: command.args };
    }
    case 'ENV':
    case 'LABEL': {
      const pairs = nameValues(rest, keyword, escapeChar);
      flags();
      if (pairs.length === 0) throw new InstructionProblem(`${keyword} requires at least one argument`);
      if (pairs.some((p) => p.key === '')) throw new InstructionProblem(`${keyword} names can not be blank`);
      return { ...base, keyword, pairs } as Instruction;
    }
    case 'ARG': {
      const words = quotedWords(rest, escapeChar);
      if (words.length === 0) throw new InstructionProblem('ARG requires at least one argument');
      flags();
      const args: ArgDeclaration[] = words.map((w) => {
        const eq = w.indexOf('=');
        if (eq < 0) return { name: w };
        if (eq === 0) throw new InstructionProblem('ARG names can not be blank');
        return { name: w.slice(0, eq), default: w.slice(eq + 1) };
      });
      return { ...base, keyword, args };
    }
    case 'EXPOSE': {
      // Sorted as Docker sorts them (before expansion): the history text follows this order.
      const ports = whitespaceWords(rest).sort();
      if (ports.length === 0) throw new InstructionProblem('EXPOSE requires at least one argument');
      flags();
      return { ...base, keyword, ports };
    }
    case 'COPY':
    case 'ADD': {
      const list = maybeJsonList(rest);
      if (list.length < 2) {
        throw new InstructionProblem(
          `${keyword} requires at least two arguments, but only one was provided. Destination could not be determined`,
        );
      }
      const f = flags();
      const dest = list[list.length - 1]!;
      if (parseHeredocWord(dest)) throw new InstructionProblem(`${keyword} cannot accept a heredoc as a destination`);
      const byName = new Map(line.heredocs.map((h) => [h.name, h]));
      const sources: CopySource[] = list.slice(0, -1).map((src) => {
        const word = parseHeredocWord(src);
        if (!word) return { kind: 'path', path: src };
        const heredoc = byName.get(word.name);
        const content = heredoc ? (word.chomp ? chompHeredoc(heredoc.content) : heredoc.content) : '';
        return { kind: 'heredoc', name: word.name, content, expand: word.expand };
      });
      const common = {
        ...base,
        sources,
        dest,
        chown: f.strings.get('chown'),
        chmod: f.strings.get('chmod'),
        link: f.bools.get('link') ?? false,
        exclude: f.lists.get('exclude') ?? [],
      };
      if (keyword === 'COPY') {
        const from = f.strings.get('from');
        if (from !== undefined && from === '') throw new InstructionProblem('COPY --from requires a value');
        return { ...common, keyword, from, parents: f.bools.get('parents') ?? false };
      }
      return {
        ...common,
        keyword,
        keepGitDir: f.bools.get('keep-git-dir'),
        checksum: f.strings.get('checksum'),
        unpack: f.bools.get('unpack'),
      };
    }
    case 'WORKDIR':
    case 'USER':
    case 'STOPSIGNAL':
    case 'MAINTAINER': {
      if (rest === '') throw new InstructionProblem(`${keyword} requires exactly one argument`);
      flags();
      if (keyword === 'WORKDIR') return { ...base, keyword, path: rest };
      if (keyword === 'USER') return { ...base, keyword, user: rest };
      if (keyword === 'STOPSIGNAL') return { ...base, keyword, signal: rest };
      return { ...base, keyword, maintainer: rest };
    }
    case 'VOLUME': {
      const paths = maybeJsonList(rest).map((p) => p.trim());
      if (paths.length === 0) throw new InstructionProblem('VOLUME requires at least one argument');
      flags();
      if (paths.some((p) => p === '')) throw new InstructionProblem('VOLUME specified can not be an empty string');
      return { ...base, keyword, paths };
    }
    case 'HEALTHCHECK':
      return { ...base, keyword, health: healthcheck(rest, flagWords, line) };
    case 'ONBUILD': {
      if (rest === '') throw new InstructionProblem('ONBUILD requires at least one argument');
      flags();
      const triggerWord = rest.split(whitespace, 1)[0]!.toUpperCase();
      if (triggerWord === 'ONBUILD') throw new InstructionProblem("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (triggerWord === 'MAINTAINER' || triggerWord === 'FROM') {
        throw new InstructionProblem(`${triggerWord} isn't allowed as an ONBUILD trigger`);
      }
      const trigger = parseLine(rest, line, escapeChar, file);
      let expression = trimmed.replace(/^\s*ONBUILD\s*/i, '');
      for (const heredoc of line.heredocs) expression += `\n${heredoc.content}${heredoc.name}`;
      return { ...base, keyword, expression, trigger };
    }
  }
}

/** FROM and EXPOSE: words split at blanks, nothing else. */
function whitespaceWords(rest: string): string[] {
  return rest === '' ? [] : rest.split(whitespace);
}

/**
 * The command of RUN, CMD, ENTRYPOINT, SHELL: a JSON array of strings is the exec form;
 * text that is not valid JSON (or not an array) is the shell form; an array with a
 * non-string is an error.
 */
function commandLine(rest: string, line: LogicalLine, keyword: string): CommandLine {
  const heredocs = keyword === 'RUN' ? line.heredocs : [];
  if (rest === '') return { json: false, args: [], heredocs };
  const array = jsonArray(rest);
  if (array) return { json: true, args: array, heredocs };
  return { json: false, args: [rest], heredocs };
}

/** A JSON array of strings, undefined when `text` is not a JSON array; throws for non-strings. */
function jsonArray(text: string): string[] | undefined {
  const trimmed = text.replace(/^\s+/u, '');
  if (!trimmed.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v) => typeof v === 'string')) {
    throw new InstructionProblem('when using JSON array syntax, arrays must be comprised of strings only');
  }
  return value as string[];
}

/** COPY, ADD, VOLUME: a JSON array, or words split at blanks. */
function maybeJsonList(rest: string): string[] {
  return jsonArray(rest) ?? whitespaceWords(rest);
}

/**
 * Words split at blanks outside quotes, the quotes and escapes kept in the word (they
 * are processed when the word is expanded): ARG, and ENV/LABEL's `k=v` form.
 */
export function quotedWords(rest: string, escapeChar: string): string[] {
  const words: string[] = [];
  const chars = [...rest];
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOk = false;
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i]!;
    if (!inWord) {
      if (/\s/u.test(ch)) continue;
      inWord = true;
    }
    if (!quote) {
      if (/\s/u.test(ch)) {
        if (blankOk || word.length > 0) words.push(word);
        word = '';
        blankOk = false;
        inWord = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
      } else if (ch === escapeChar) {
        if (i + 1 === chars.length) continue;
        word += ch;
        ch = chars[++i]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) quote = '';
    else if (ch === escapeChar && quote !== "'") {
      if (i + 1 === chars.length) {
        quote = '';
        continue;
      }
      word += ch;
      ch = chars[++i]!;
    }
    word += ch;
  }
  if (inWord && (blankOk || word.length > 0)) words.push(word);
  return words;
}

/** ENV and LABEL: `k=v k2="v 2"`, or the legacy `ENV key the rest is the value`. */
function nameValues(rest: string, keyword: string, escapeChar: string): KeyValue[] {
  const words = quotedWords(rest, escapeChar);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const m = /^([^\t\v\f\r ]+)[\t\v\f\r ]+([\s\S]+)$/.exec(rest);
    if (!m) throw new InstructionProblem(`${keyword} must have two arguments`);
    return [{ key: m[1]!, value: m[2]! }];
  }
  return words.map((word) => {
    const eq = word.indexOf('=');
    if (eq < 0) throw new InstructionProblem(`Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`);
    return { key: word.slice(0, eq), value: word.slice(eq + 1) };
  });
}

/** `HEALTHCHECK NONE` or `HEALTHCHECK [--interval=…] CMD command` (exec or shell form). */
function healthcheck(rest: string, flagWords: string[], line: LogicalLine): HealthcheckSpec {
  const m = /^(\S+)\s*([\s\S]*)$/u.exec(rest);
  if (!m) throw new InstructionProblem('HEALTHCHECK requires at least one argument');
  const type = m[1]!.toUpperCase();
  const none: HealthcheckSpec = { test: ['NONE'], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  if (type === 'NONE') {
    if (m[2] !== '') throw new InstructionProblem('HEALTHCHECK NONE takes no arguments');
    return none;
  }
  const f = parseFlags(flagWords, acceptedFlags.HEALTHCHECK);
  if (type !== 'CMD') throw new InstructionProblem(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`);
  const command = commandLine(m[2]!, line, 'HEALTHCHECK');
  if (command.args.length === 0 || (!command.json && command.args[0] === '')) {
    throw new InstructionProblem('Missing command after HEALTHCHECK CMD');
  }
  const interval = (flag: string): number => {
    const value = f.strings.get(flag);
    if (value === undefined || value === '') return 0;
    const ns = parseGoDuration(value);
    if (ns === undefined) throw new InstructionProblem(`time: invalid duration ${JSON.stringify(value)}`);
    if (ns !== 0 && ns < 1e6) throw new InstructionProblem(`Interval ${JSON.stringify(flag)} cannot be less than 1ms`);
    return ns;
  };
  let retries = 0;
  const retriesText = f.strings.get('retries');
  if (retriesText !== undefined && retriesText !== '') {
    if (!/^[+-]?\d+$/.test(retriesText))
      throw new InstructionProblem(`strconv.ParseInt: parsing ${JSON.stringify(retriesText)}: invalid syntax`);
    retries = Number(retriesText);
    if (retries < 0) throw new InstructionProblem(`--retries cannot be negative (${retries})`);
  }
  return {
    test: command.json ? ['CMD', ...command.args] : ['CMD-SHELL', ...command.args],
    interval: interval('interval'),
    timeout: interval('timeout'),
    startPeriod: interval('start-period'),
    startInterval: interval('start-interval'),
    retries,
  };
}
