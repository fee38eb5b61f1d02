import { DockerfileError } from './errors.js';
import type { ArgInstruction, Dockerfile, StageSource } from './instructions.js';
import { readLogicalLines } from './logical-lines.js';
import { parseInstruction } from './parse-instruction.js';

/** Options of parseDockerfile. */
export interface ParseOptions {
  /** The name errors give the file (default `Dockerfile`). */
  file?: string;
}

/**
 * Parse a Dockerfile's text: directives, instructions (typed, arguments as written),
 * grouped into stages. Pure: no file, no network, no expansion. Throws DockerfileError
 * naming the file and line for anything Docker refuses before it builds: an empty file
 * (`file with no instructions`), an instruction before the first FROM other than ARG
 * (`no build stage in current context`), an unknown instruction, a bad flag, a bad JSON
 * array, missing arguments, an unterminated heredoc, a stage name used twice.
 */
export function parseDockerfile(text: string, options: ParseOptions = {}): Dockerfile {
  const file = options.file ?? 'Dockerfile';
  const read = readLogicalLines(text, file);
  if (read.lines.length === 0) throw new DockerfileError(file, 0, 0, 'file with no instructions');
  const metaArgs: ArgInstruction[] = [];
  const stages: StageSource[] = [];
  const names = new Set<string>();
  for (const line of read.lines) {
    const instruction = parseInstruction(line, read.escape, file);
    const where = instruction.location;
    if (instruction.keyword === 'FROM') {
      if (instruction.name !== undefined) {
        if (names.has(instruction.name)) {
          throw new DockerfileError(file, where.startLine, where.endLine, `${instruction.name} stage name already used`);
        }
        names.add(instruction.name);
      }
      stages.push({ index: stages.length, from: instruction, instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) {
      if (instruction.keyword === 'ARG') {
        metaArgs.push(instruction);
        continue;
      }
      throw new DockerfileError(file, where.startLine, where.endLine, 'no build stage in current context');
    }
    stage.instructions.push(instruction);
  }
  if (stages.length === 0) {
    const last = read.lines[read.lines.length - 1]!;
    throw new DockerfileError(file, last.startLine, last.endLine, 'no build stage in current context');
  }
  const syntax = read.directives.find((d) => d.name === 'syntax')?.value;
  return { file, escape: read.escape, directives: read.directives, syntax, metaArgs, stages, warnings: read.warnings };
}
