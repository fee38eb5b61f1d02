import { goArch } from '@berth/image';
import { DockerfileError, type DockerfileWarning, type SourceRange } from './errors.js';
import type { ArgInstruction, Dockerfile, Instruction, StageSource } from './instructions.js';
import { csvFields } from './run-mount.js';
import { ShellLexer, ShellSyntaxError, type VariableSource } from './shell-lexer.js';
import { suggest, withSuggestion } from './suggest.js';

/**
 * The build args Docker lets through without an ARG: the proxy variables. They reach
 * RUN's environment when given with `--build-arg`, stay out of the cache key and the
 * history unless an ARG declares them, and are never reported as unused.
 */
export const predefinedArgs: readonly string[] = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
];

/** What a stage builds on. */
export type StageBase = { kind: 'scratch' } | { kind: 'image'; ref: string } | { kind: 'stage'; stage: number };

/** Where COPY --from or RUN --mount from= takes files: an earlier/other stage, or an image. */
export type StageSourceRef = { kind: 'stage'; stage: number } | { kind: 'image'; ref: string };

/** A stage of the plan: its FROM resolved, what it needs. */
export interface PlannedStage {
  index: number;
  name?: string;
  source: StageSource;
  /** The FROM line's image expanded with the global ARGs and resolved. */
  base: StageBase;
  /** `--platform`, expanded; undefined when not given. */
  platform?: string;
  /** Stages this one needs finished first (its base, COPY --from, RUN --mount from=), sorted. */
  dependsOn: number[];
  /** Images (other than its base) it reads files from, for the executor to pull first. */
  images: string[];
  /** The number N of its FROM's `Step N/M` line (0 when the stage is not built). */
  firstStep: number;
}

/** Options of planBuild: what `docker build` passes. */
export interface PlanOptions {
  /** `--build-arg K=V` (a value of undefined: `--build-arg K` with K unset in the client). */
  buildArgs?: Record<string, string | undefined>;
  /** `--target`: the stage to build (by name); default the last. */
  target?: string;
  /** `--platform`: the platform the image is for (TARGETPLATFORM...); default this host's. */
  platform?: Platform;
  /** The platform the build runs on (BUILDPLATFORM...); default this host's. */
  buildPlatform?: Platform;
}

/** An OCI platform: `linux`, `arm64`, `v8`. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/**
 * What to build and in which order, computed from the Dockerfile alone (no image
 * configs yet): the stages with their bases resolved, which the target needs, and how
 * they can be grouped for concurrent building.
 */
export interface BuildPlan {
  dockerfile: Dockerfile;
  stages: PlannedStage[];
  /** The index of the target stage. */
  target: number;
  /** The stages the target needs (itself included), in Dockerfile order. Only these are built. */
  needed: number[];
  /**
   * `needed` in levels: each stage depends only on stages of earlier levels, so the
   * stages of one level can be built concurrently once the previous level is done.
   */
  levels: number[][];
  /** The global ARGs (before the first FROM) with `--build-arg` applied; undefined: declared without a value. */
  globalArgs: Map<string, string | undefined>;
  /** `--build-arg` as given. */
  buildArgs: Map<string, string | undefined>;
  /**
   * BuildKit's automatic platform ARGs (TARGETPLATFORM, TARGETOS, TARGETARCH,
   * TARGETVARIANT, BUILDPLATFORM, BUILDOS, BUILDARCH, BUILDVARIANT): usable in FROM lines
   * as they are, and in a stage that declares them with `ARG NAME`.
   */
  platformArgs: Map<string, string>;
  /** M of `Step N/M`: the global ARGs, then each needed stage's FROM and instructions. */
  totalSteps: number;
  /** The `Step N/M : ARG …` lines of the global ARGs, printed before the first stage. */
  globalArgSteps: string[];
  /** Notes to print before building: a base or `--from` that looks like a misspelt stage name. */
  notes: DockerfileWarning[];
  /**
   * Docker's notes to print after the build: `[Warning] One or more build-args [FOO]
   * were not consumed` when a `--build-arg` names no ARG of the built stages.
   */
  warnings: string[];
}

/**
 * Plan a build: resolve every FROM (global ARGs expanded; a name of an earlier stage is
 * that stage, `scratch` is nothing, anything else an image), find the target and the
 * stages it needs (through FROM, `COPY --from` and `RUN --mount from=`, which name only
 * earlier stages, as in Docker), and number the steps. Throws DockerfileError for an
 * unknown target (`target stage "x" could not be found`), a `--from` naming the stage
 * itself, a later one or a variable, a bad stage index (`invalid stage index 5`), a
 * blank base name, a bad substitution.
 */
export function planBuild(dockerfile: Dockerfile, options: PlanOptions = {}): BuildPlan {
  const file = dockerfile.file;
  const lexer = new ShellLexer(dockerfile.escape);
  const buildArgs = new Map(Object.entries(options.buildArgs ?? {}));
  const fail = (where: SourceRange | undefined, problem: string): never => {
    throw new DockerfileError(file, where?.startLine ?? 0, where?.endLine ?? 0, problem);
  };
  const expand = (text: string, env: VariableSource, where: SourceRange): string => {
    try {
      return lexer.processWord(text, env);
    } catch (err) {
      if (err instanceof ShellSyntaxError) return fail(where, err.message);
      throw err;
    }
  };

  // Global ARGs: each declared in order, its default expanded with those before it, a
  // --build-arg overriding the default.
  const platformArgs = automaticPlatformArgs(options.platform ?? hostPlatform(), options.buildPlatform ?? hostPlatform());
  const globalArgs = new Map<string, string | undefined>();
  const globalEnv: VariableSource = { get: (name) => (globalArgs.has(name) ? globalArgs.get(name) : platformArgs.get(name)) };
  for (const arg of dockerfile.metaArgs) {
    declareArgs(arg, globalArgs, buildArgs, (t) => expand(t, globalEnv, arg.location), platformArgs);
  }

  // A base or --from that is no stage but looks like a stage's name is most likely a
  // typo: Docker would pull it as an image; say so before anything is pulled.
  const notes: DockerfileWarning[] = [];
  const stageNames = dockerfile.stages.flatMap((s) => (s.from.name === undefined ? [] : [s.from.name]));
  const noteLookalike = (ref: string, where: SourceRange) => {
    if (/[/:@.]/.test(ref)) return;
    const match = suggest(ref, stageNames, false);
    if (match !== undefined) {
      notes.push({
        line: where.startLine,
        message: `${file}:${where.startLine}: "${ref}" is not a stage of this Dockerfile and is taken as an image name (did you mean ${match}?)`,
      });
    }
  };

  const byName = new Map<string, number>();
  const stages: PlannedStage[] = dockerfile.stages.map((source) => {
    const from = source.from;
    const image = expand(from.image, globalEnv, from.location);
    if (image === '') fail(from.location, `base name (${from.image}) should not be blank`);
    const earlier = byName.get(image.toLowerCase());
    const base: StageBase =
      earlier !== undefined
        ? { kind: 'stage', stage: earlier }
        : image.toLowerCase() === 'scratch'
          ? { kind: 'scratch' }
          : { kind: 'image', ref: image };
    if (base.kind === 'image') noteLookalike(image, from.location);
    const platform = from.platform === undefined ? undefined : expand(from.platform, globalEnv, from.location);
    if (from.name !== undefined) byName.set(from.name, source.index);
    return { index: source.index, name: from.name, source, base, platform, dependsOn: [], images: [], firstStep: 0 };
  });

  // Dependencies: `--from` names an earlier stage (by name or index) or an image; like
  // Docker, it takes no variables and cannot name the stage itself or a later one.
  const resolveFrom = (ref: FromReference, stage: PlannedStage, where: SourceRange): StageSourceRef => {
    try {
      const resolved = resolveStageName(stages, ref.value);
      if (resolved.kind === 'stage' && resolved.stage >= stage.index) {
        const name = JSON.stringify(ref.value);
        throw new Error(
          ref.mountTarget === undefined
            ? `cannot copy from stage ${name}, it needs to be defined before current stage ${JSON.stringify(stage.name ?? `stage-${stage.index}`)}`
            : `cannot mount from stage ${name} to ${JSON.stringify(ref.mountTarget)}, stage needs to be defined before current command`,
        );
      }
      return resolved;
    } catch (err) {
      return fail(where, (err as Error).message);
    }
  };
  for (const stage of stages) {
    const deps = new Set<number>();
    const images = new Set<string>();
    if (stage.base.kind === 'stage') deps.add(stage.base.stage);
    for (const instruction of stage.source.instructions) {
      for (const ref of fromReferences(instruction, (message) => fail(instruction.location, message))) {
        const resolved = resolveFrom(ref, stage, instruction.location);
        if (resolved.kind === 'stage') deps.add(resolved.stage);
        else {
          images.add(resolved.ref);
          noteLookalike(resolved.ref, instruction.location);
        }
      }
    }
    stage.dependsOn = [...deps].sort((a, b) => a - b);
    stage.images = [...images];
  }

  let target = stages.length - 1;
  if (options.target !== undefined && options.target !== '') {
    const found = byName.get(options.target.toLowerCase());
    if (found === undefined) {
      const names = stages.flatMap((s) => (s.name === undefined ? [] : [s.name]));
      fail(undefined, withSuggestion(`target stage ${JSON.stringify(options.target)} could not be found`, options.target, names, true));
    }
    target = found!;
  }

  // Needed stages: the target and, transitively, what it depends on (always earlier
  // stages, so there is no cycle to fear).
  const state = new Set<number>();
  const visit = (index: number) => {
    if (state.has(index)) return;
    state.add(index);
    for (const dep of stages[index]!.dependsOn) visit(dep);
  };
  visit(target);
  const needed = [...state].sort((a, b) => a - b);

  const level = new Map<number, number>();
  const levelOf = (index: number): number => {
    const known = level.get(index);
    if (known !== undefined) return known;
    const value = Math.max(-1, ...stages[index]!.dependsOn.map(levelOf)) + 1;
    level.set(index, value);
    return value;
  };
  const levels: number[][] = [];
  for (const index of needed) {
    const at = levelOf(index);
    levels[at] = [...(levels[at] ?? []), index];
  }

  let step = dockerfile.metaArgs.length;
  for (const index of needed) {
    stages[index]!.firstStep = step + 1;
    step += 1 + stages[index]!.source.instructions.length;
  }
  const totalSteps = step;
  const globalArgSteps = dockerfile.metaArgs.map((arg, i) => `Step ${i + 1}/${totalSteps} : ${arg.code}`);

  // A --build-arg is consumed when an ARG of a built stage (or a global ARG) declares it.
  const declared = new Set<string>(globalArgs.keys());
  for (const index of needed) {
    for (const instruction of stages[index]!.source.instructions) {
      if (instruction.keyword === 'ARG') for (const a of instruction.args) declared.add(a.name);
    }
  }
  const unused = [...buildArgs.keys()].filter((k) => !declared.has(k) && !predefinedArgs.includes(k)).sort();
  const warnings = unused.length > 0 ? [`[Warning] One or more build-args [${unused.join(' ')}] were not consumed`] : [];

  return { dockerfile, stages, target, needed, levels, globalArgs, buildArgs, platformArgs, totalSteps, globalArgSteps, notes, warnings };
}

/** The values a stage's `ARG NAME` (without a default) inherits: the global ARGs over the platform ARGs. */
export function inheritableArgs(plan: Pick<BuildPlan, 'globalArgs' | 'platformArgs'>): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>(plan.platformArgs);
  for (const [name, value] of plan.globalArgs) if (value !== undefined || !out.has(name)) out.set(name, value);
  return out;
}

/** This host's platform, with Go's architecture names. */
export function hostPlatform(): Platform {
  return { os: 'linux', architecture: goArch() };
}

/** `linux/arm64/v8` and its parts, as BuildKit names them. */
function automaticPlatformArgs(target: Platform, build: Platform): Map<string, string> {
  const format = (p: Platform) => [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/');
  return new Map([
    ['TARGETPLATFORM', format(target)],
    ['TARGETOS', target.os],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['BUILDPLATFORM', format(build)],
    ['BUILDOS', build.os],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
  ]);
}

/**
 * What `--from=<value>` (already expanded) names in a plan: a stage by name (any case)
 * or by index, else an image. Throws an Error for an index past the last stage.
 */
export function resolveStageRef(plan: Pick<BuildPlan, 'stages'>, value: string): StageSourceRef {
  return resolveStageName(plan.stages, value);
}

function resolveStageName(stages: readonly PlannedStage[], value: string): StageSourceRef {
  const lower = value.toLowerCase();
  const named = stages.find((s) => s.name === lower);
  if (named) return { kind: 'stage', stage: named.index };
  if (/^\d+$/.test(value)) {
    const index = Number(value);
    if (index >= stages.length) throw new Error(`invalid stage index ${index}`);
    return { kind: 'stage', stage: index };
  }
  return { kind: 'image', ref: value };
}

/**
 * Declare the names of one ARG into `scope`: the value is the `--build-arg` when given,
 * else the default (expanded by `expand`), else what `inherited` holds for the name
 * (a global ARG redeclared in a stage), else undefined (declared, no value).
 */
export function declareArgs(
  arg: ArgInstruction,
  scope: Map<string, string | undefined>,
  buildArgs: ReadonlyMap<string, string | undefined>,
  expand: (text: string) => string,
  inherited?: ReadonlyMap<string, string | undefined>,
): void {
  for (const declaration of arg.args) {
    const name = expand(declaration.name);
    const defaultValue = declaration.default === undefined ? undefined : expand(declaration.default);
    let value: string | undefined;
    if (buildArgs.has(name) && buildArgs.get(name) !== undefined) value = buildArgs.get(name);
    else if (defaultValue !== undefined) value = defaultValue;
    else value = inherited?.get(name);
    scope.set(name, value);
  }
}

/** A `--from` as written, and for RUN a mount's target (for the error text). */
interface FromReference {
  value: string;
  mountTarget?: string;
}

/**
 * The `--from` values an instruction names (COPY --from, RUN --mount from=); an ONBUILD
 * trigger's run in a later build. A value with a variable is refused, in Docker's words.
 */
function fromReferences(instruction: Exclude<Instruction, { keyword: 'FROM' }>, fail: (message: string) => never): FromReference[] {
  if (instruction.keyword === 'COPY' && instruction.from !== undefined) {
    let unchanged: boolean;
    try {
      unchanged = new ShellLexer('\\').processWord(instruction.from, { get: () => undefined }) === instruction.from;
    } catch {
      unchanged = false;
    }
    if (!unchanged) {
      fail('variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround');
    }
    return [{ value: instruction.from }];
  }
  if (instruction.keyword !== 'RUN') return [];
  const out: FromReference[] = [];
  for (const mount of instruction.mounts) {
    let from: string | undefined;
    let target: string | undefined;
    for (const field of csvFields(mount.spec)) {
      const eq = field.indexOf('=');
      const key = field.slice(0, eq).toLowerCase();
      if (eq > 0 && key === 'from') from = field.slice(eq + 1);
      if (eq > 0 && (key === 'target' || key === 'dst' || key === 'destination')) target = field.slice(eq + 1);
    }
    if (from !== undefined) out.push({ value: from, mountTarget: target ?? '' });
  }
  return out;
}
