import { planBuild } from './build-plan.js';
import { DockerfileError } from './errors.js';
import { evaluateStage } from './evaluate-stage.js';
import type { ImageRuntimeConfig } from './image-config.js';
import type { Dockerfile, Instruction } from './instructions.js';
import { readLogicalLines } from './logical-lines.js';
import { parseInstruction } from './parse-instruction.js';

/** The instructions `docker commit --change` and `docker import --change` accept (Docker's list). */
export const changeKeywords: readonly Instruction['keyword'][] = [
  'CMD',
  'ENTRYPOINT',
  'HEALTHCHECK',
  'ENV',
  'EXPOSE',
  'LABEL',
  'ONBUILD',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
];

/**
 * Apply `--change` instructions to a copy of `base`, as Docker does for `commit` and
 * `import`: the changes are read as the lines of one Dockerfile (continuations,
 * heredocs-free), each must be one of `changeKeywords` (else `RUN is not a valid change
 * command`), and each is applied with the Dockerfile's rules (ENV expansion from the
 * config so far, ENTRYPOINT dropping a CMD the changes did not set, WORKDIR relative).
 * Unlike a build, the base's ONBUILD triggers are kept and not run. Errors are
 * DockerfileErrors whose file is `--change` and whose line is the change's position.
 */
export function applyConfigChanges(base: ImageRuntimeConfig, changes: readonly string[]): ImageRuntimeConfig {
  if (changes.length === 0) return structuredClone(base);
  const file = '--change';
  const read = readLogicalLines(changes.join('\n'), file);
  const instructions = read.lines.map((line) => {
    const word = line.text.trim().split(/[\t\v\f\r ]+/, 1)[0]!;
    if (!(changeKeywords as readonly string[]).includes(word.toUpperCase())) {
      throw new DockerfileError(file, line.startLine, line.endLine, `${word} is not a valid change command`);
    }
    return parseInstruction(line, read.escape, file) as Exclude<Instruction, { keyword: 'FROM' }>;
  });
  const at = { startLine: 0, endLine: 0 };
  const dockerfile: Dockerfile = {
    file,
    escape: read.escape,
    directives: read.directives,
    metaArgs: [],
    stages: [{ index: 0, from: { keyword: 'FROM', code: 'FROM scratch', image: 'scratch', location: at }, instructions }],
    warnings: read.warnings,
  };
  return evaluateStage(planBuild(dockerfile), 0, { config: base, keepOnBuild: true }).config;
}
