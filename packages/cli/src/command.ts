import type { BerthClient } from '@berth/client';
import { type FlagSpec, type Flags, formatOptions, parseArgs } from './argv.js';
import { FlagError, StatusError } from './errors.js';
import type { CliIo } from './io.js';

/** What a command gets besides its arguments. */
export interface CommandContext {
  io: CliIo;
  /** The client, made on first use (so `--help` never loads it). */
  client(): BerthClient;
}

/**
 * One `berth` verb: its usage line, flags and argument count (checked before `run`), and
 * the code. `run` returns the exit status; errors it throws are printed docker's way
 * (`Error response from daemon: …`) with status 1.
 */
export interface Command {
  name: string;
  /** After the command path: `[OPTIONS] CONTAINER [CONTAINER...]`. */
  usage: string;
  summary: string;
  flags: FlagSpec[];
  minArgs?: number;
  maxArgs?: number;
  /** False for run/create: flags end at the image, the rest is the container's command. */
  interspersed?: boolean;
  aliases?: string;
  run(ctx: CommandContext, flags: Flags, args: string[]): Promise<number>;
}

/** The name of the program in messages. */
export const PROG = 'berth';

/** `Usage:  berth stop [OPTIONS] ...` with summary, aliases and options, as `--help` prints it. */
export function helpText(cmd: Command, path: string): string {
  let text = `\nUsage:  ${path} ${cmd.usage}\n\n${cmd.summary}\n`;
  if (cmd.aliases) text += `\nAliases:\n  ${cmd.aliases}\n`;
  const options = formatOptions(cmd.flags);
  if (options) text += `\nOptions:\n${options}\n`;
  return text;
}

function plural(n: number): string {
  return n === 1 ? 'argument' : 'arguments';
}

/** The message docker prints when a command gets the wrong number of arguments. */
function argCountError(cmd: Command, path: string, count: number): string | undefined {
  const { minArgs = 0, maxArgs = Infinity } = cmd;
  let problem: string | undefined;
  if (minArgs === maxArgs && count !== minArgs) problem = `requires exactly ${minArgs} ${plural(minArgs)}`;
  else if (count < minArgs) problem = `requires at least ${minArgs} ${plural(minArgs)}`;
  else if (count > maxArgs) problem = maxArgs === 0 ? 'accepts no arguments' : `accepts at most ${maxArgs} ${plural(maxArgs)}`;
  if (!problem) return undefined;
  return `"${path}" ${problem}.\nSee '${path} --help'.\n\nUsage:  ${path} ${cmd.usage}\n\n${cmd.summary}`;
}

/** `Error response from daemon: …` for daemon errors, the message itself otherwise. */
export function describeError(err: unknown): string {
  const e = err as { name?: string; message?: string };
  if (e && e.name === 'ApiError') return `Error response from daemon: ${e.message}`;
  return e && typeof e.message === 'string' ? e.message : String(err);
}

/** Writes a line to stderr. */
export function printError(ctx: CommandContext, text: string): void {
  ctx.io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Parses the arguments, answers `--help`, checks the count, runs the command and turns its failure into an exit status. */
export async function execute(cmd: Command, path: string, argv: string[], ctx: CommandContext): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(argv, cmd.flags, cmd.interspersed !== false);
  } catch (err) {
    if (err instanceof FlagError) {
      printError(ctx, `${err.message}\nSee '${path} --help'.`);
      return 125;
    }
    throw err;
  }
  if (parsed.help) {
    ctx.io.stdout.write(helpText(cmd, path));
    return 0;
  }
  const countError = argCountError(cmd, path, parsed.args.length);
  if (countError) {
    printError(ctx, countError);
    return 1;
  }
  try {
    return await cmd.run(ctx, parsed.flags, parsed.args);
  } catch (err) {
    if (err instanceof StatusError) {
      if (err.message) printError(ctx, err.message);
      return err.exitCode;
    }
    printError(ctx, describeError(err));
    return 1;
  }
}

/**
 * Runs `op` on every name at once (docker runs these in parallel) and reports in the
 * order given: each success through `ok` (default: print the name), each failure on
 * stderr. Returns the names that failed.
 */
export async function forEachName<T>(
  ctx: CommandContext,
  names: string[],
  op: (name: string) => Promise<T>,
  ok: (name: string, result: T) => void = (name) => void ctx.io.stdout.write(`${name}\n`),
): Promise<string[]> {
  const results = await Promise.allSettled(names.map((n) => op(n)));
  const failed: string[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') ok(names[i]!, r.value);
    else {
      failed.push(names[i]!);
      printError(ctx, describeError(r.reason));
    }
  });
  return failed;
}
