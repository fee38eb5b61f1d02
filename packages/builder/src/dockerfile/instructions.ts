import type { DockerfileWarning, SourceRange } from './errors.js';
import type { Directive, Heredoc } from './logical-lines.js';

/** Every Dockerfile instruction, as Docker spells it. */
export const instructionKeywords = [
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
] as const;
export type Keyword = (typeof instructionKeywords)[number];

/**
 * What every parsed instruction carries. Arguments are kept as written (variables not
 * yet expanded): expansion depends on the ENV and ARG values at that point of the build,
 * which the stage evaluator knows.
 */
export interface InstructionBase {
  keyword: Keyword;
  /** The instruction as written, continuations joined and trimmed: the `Step N/M : …` text. */
  code: string;
  location: SourceRange;
}

/**
 * A command line of RUN, CMD, ENTRYPOINT, SHELL or HEALTHCHECK CMD. Exec (JSON) form:
 * `json` and `args` the array; shell form: `args` the one text (empty for an
 * instruction with nothing after it). Brackets that are not a valid JSON array are
 * shell form, as in Docker; a JSON array of non-strings is an error.
 */
export interface CommandLine {
  json: boolean;
  args: string[];
  /** RUN's heredocs (the shell form's `<<EOF` words), in the order written. */
  heredocs: Heredoc[];
}

export interface FromInstruction extends InstructionBase {
  keyword: 'FROM';
  /** The base as written: an image reference, a stage name, `scratch`, or with `$ARG`s. */
  image: string;
  /** `AS name`, lower-cased (Docker matches stage names case-insensitively). */
  name?: string;
  /** `--platform=…` as written. */
  platform?: string;
}

/** One `--mount=…` of RUN, as written (fields expanded by the stage evaluator). */
export interface RunMountSpec {
  /** The flag's value, `type=cache,target=/root/.cache`. */
  spec: string;
}

export interface RunInstruction extends InstructionBase {
  keyword: 'RUN';
  command: CommandLine;
  mounts: RunMountSpec[];
  /** `--network=default|none|host`. */
  network?: 'default' | 'none' | 'host';
}

export interface CmdInstruction extends InstructionBase {
  keyword: 'CMD';
  command: CommandLine;
}

export interface EntrypointInstruction extends InstructionBase {
  keyword: 'ENTRYPOINT';
  command: CommandLine;
}

export interface ShellInstruction extends InstructionBase {
  keyword: 'SHELL';
  shell: string[];
}

/** A KEY=value pair of ENV or LABEL, as written (quotes and escapes still in). */
export interface KeyValue {
  key: string;
  value: string;
}

export interface EnvInstruction extends InstructionBase {
  keyword: 'ENV';
  pairs: KeyValue[];
}

export interface LabelInstruction extends InstructionBase {
  keyword: 'LABEL';
  pairs: KeyValue[];
}

/** One name of ARG, with its default when `name=default` was written. */
export interface ArgDeclaration {
  name: string;
  default?: string;
}

export interface ArgInstruction extends InstructionBase {
  keyword: 'ARG';
  args: ArgDeclaration[];
}

export interface ExposeInstruction extends InstructionBase {
  keyword: 'EXPOSE';
  ports: string[];
}

/** A source of COPY or ADD: a path (or URL, for ADD) in the context/stage, or a heredoc. */
export type CopySource = { kind: 'path'; path: string } | { kind: 'heredoc'; name: string; content: string; expand: boolean };

/** The flags COPY and ADD share. */
export interface CopyFlags {
  chown?: string;
  chmod?: string;
  link: boolean;
  exclude: string[];
}

export interface CopyInstruction extends InstructionBase, CopyFlags {
  keyword: 'COPY';
  sources: CopySource[];
  dest: string;
  /** `--from=<stage name|stage index|image>`. */
  from?: string;
  parents: boolean;
}

export interface AddInstruction extends InstructionBase, CopyFlags {
  keyword: 'ADD';
  sources: CopySource[];
  dest: string;
  keepGitDir?: boolean;
  checksum?: string;
  unpack?: boolean;
}

export interface WorkdirInstruction extends InstructionBase {
  keyword: 'WORKDIR';
  path: string;
}

export interface UserInstruction extends InstructionBase {
  keyword: 'USER';
  user: string;
}

export interface VolumeInstruction extends InstructionBase {
  keyword: 'VOLUME';
  paths: string[];
}

export interface StopSignalInstruction extends InstructionBase {
  keyword: 'STOPSIGNAL';
  signal: string;
}

export interface MaintainerInstruction extends InstructionBase {
  keyword: 'MAINTAINER';
  maintainer: string;
}

/** HEALTHCHECK as the image config stores it: durations in nanoseconds, 0 when not given. */
export interface HealthcheckSpec {
  /** `["NONE"]`, `["CMD", ...argv]` or `["CMD-SHELL", "text"]`. */
  test: string[];
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

export interface HealthcheckInstruction extends InstructionBase {
  keyword: 'HEALTHCHECK';
  health: HealthcheckSpec;
}

export interface OnbuildInstruction extends InstructionBase {
  keyword: 'ONBUILD';
  /** What the image config stores in `OnBuild`: the trigger as written (with its heredocs). */
  expression: string;
  /** The trigger, parsed (checked now; run when an image is built FROM this one). */
  trigger: Instruction;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | ExposeInstruction
  | CopyInstruction
  | AddInstruction
  | WorkdirInstruction
  | UserInstruction
  | VolumeInstruction
  | StopSignalInstruction
  | MaintainerInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;

/** A build stage as written: its FROM and the instructions up to the next FROM. */
export interface StageSource {
  /** Position among the stages, 0-based (what `COPY --from=0` names). */
  index: number;
  from: FromInstruction;
  instructions: Exclude<Instruction, FromInstruction>[];
}

/** A parsed Dockerfile: pure data, nothing resolved or expanded yet. */
export interface Dockerfile {
  file: string;
  /** `\` or `` ` ``. */
  escape: string;
  directives: Directive[];
  /** The `# syntax=` directive's value, recorded (berth builds with its own frontend). */
  syntax?: string;
  /** ARGs before the first FROM: usable in FROM lines, and in a stage that redeclares them. */
  metaArgs: ArgInstruction[];
  stages: StageSource[];
  /** Docker's parse warnings (empty continuation lines). */
  warnings: DockerfileWarning[];
}
