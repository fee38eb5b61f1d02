import * as path from 'node:path';
import { type BuildPlan, declareArgs, inheritableArgs, predefinedArgs, resolveStageRef, type StageSourceRef } from './build-plan.js';
import { DockerfileError, type SourceRange } from './errors.js';
import { exposedPortKeys } from './exposed-ports.js';
import { formatGoDuration } from './go-duration.js';
import { nopCreatedBy } from './history-text.js';
import { defaultShell, type ImageRuntimeConfig } from './image-config.js';
import type { AddInstruction, CopyInstruction, HealthcheckSpec, Instruction, RunInstruction } from './instructions.js';
import { chompHeredoc, parseHeredocWord, readLogicalLines } from './logical-lines.js';
import { parseInstruction } from './parse-instruction.js';
import { parseRunMount, type RunMount } from './run-mount.js';
import { ShellLexer, ShellSyntaxError, type VariableSource } from './shell-lexer.js';
import { isValidStopSignal } from './signals.js';

/** What every step of an evaluated stage carries. */
export interface StepBase {
  /** The instruction as parsed (arguments as written). */
  instruction: Exclude<Instruction, { keyword: 'FROM' }>;
  /**
   * `Step N/M : <instruction>`: what the classic builder prints before the step. Empty for
   * an ONBUILD trigger of the base image (those run after `# Executing N build triggers`).
   */
  text: string;
  /** True for a trigger inherited from the base image's ONBUILD. */
  trigger: boolean;
  /**
   * The image config after this step (for run/copy/add: the config they run under, which
   * they do not change). The config a committed layer's image gets. Read-only: the
   * configs of consecutive steps share their unchanged parts.
   */
  config: ImageRuntimeConfig;
  /**
   * Everything from the Dockerfile side that decides whether an earlier result of this
   * step can be reused: compare it (as canonical JSON) together with the parent image
   * id; COPY and ADD add the content hashes of their sources.
   */
  cacheKey: Record<string, unknown>;
}

/** An instruction that changes only the image config: no container, an empty layer. */
export interface ConfigStep extends StepBase {
  kind: 'config';
  /** The history entry's `created_by`, as the classic builder writes it (`/bin/sh -c #(nop)  ENV a=b`; see nopCreatedBy). */
  createdBy: string;
  /** A line the classic builder prints for this step (`Note: overriding previous HEALTHCHECK: [CMD-SHELL x]`). */
  note?: string;
}

/** A file RUN needs beside its command: a heredoc that is a script with a `#!` line. */
export interface RunInlineFile {
  /** Where it is mounted, read-only (`/dev/pipes/EOF`). */
  path: string;
  content: string;
  mode: number;
}

/** A RUN --mount with its paths resolved against the working directory. */
export interface ResolvedRunMount extends RunMount {
  /** Absolute target inside the container. */
  target: string;
  /** For `from=`: the stage or image the files come from (a cache's default is a fresh directory). */
  fromRef?: StageSourceRef;
}

export interface RunStep extends StepBase {
  kind: 'run';
  /** The process to run: the shell form wrapped in SHELL, heredocs folded in. */
  argv: string[];
  /** The process's environment: the config's Env, then the ARGs in scope (ENV wins). */
  env: string[];
  /** `K=v` of the ARGs in scope (sorted): in the history and the cache key. */
  buildArgs: string[];
  user: string;
  /** Absolute; `/` when the image sets none. */
  workdir: string;
  mounts: ResolvedRunMount[];
  network: 'default' | 'none' | 'host';
  inlineFiles: RunInlineFile[];
  /** The history entry's `created_by`: `|1 A=b /bin/sh -c make` (`|N` only with build args). */
  createdBy: string;
}

/** A source of COPY/ADD after expansion. */
export type ExpandedSource = { kind: 'path'; path: string } | { kind: 'heredoc'; name: string; content: string };

export interface CopyStep extends StepBase {
  kind: 'copy' | 'add';
  sources: ExpandedSource[];
  /** As written, expanded; relative to `workdir` when not absolute; a trailing `/` means a directory. */
  dest: string;
  workdir: string;
  /** COPY --from: the stage or image; undefined: the build context. */
  from?: StageSourceRef;
  chown?: string;
  chmod?: string;
  link: boolean;
  exclude: string[];
  /** COPY --parents. */
  parents: boolean;
  /** ADD --keep-git-dir, --checksum, --unpack. */
  keepGitDir?: boolean;
  checksum?: string;
  unpack?: boolean;
}

export type Step = ConfigStep | RunStep | CopyStep;

/** The base a stage starts from, as the executor found it. */
export interface StageBaseConfig {
  /** The base image's config, the evaluated config of the base stage, or null for scratch. */
  config: ImageRuntimeConfig | null;
  /**
   * Keep the base's ONBUILD triggers without running them (`docker commit --change`,
   * which is not a build); a build leaves it unset.
   */
  keepOnBuild?: boolean;
}

/** A stage evaluated against its base: every step in order and the final config. */
export interface EvaluatedStage {
  stage: number;
  /** `Step N/M : FROM …` (the FROM line as written). */
  fromText: string;
  /** `# Executing 2 build triggers` when the base image had ONBUILD triggers, else undefined. */
  triggerBanner?: string;
  steps: Step[];
  /** The stage's resulting image config: the base's, with every config step applied, OnBuild replaced. */
  config: ImageRuntimeConfig;
  /** MAINTAINER's value: the image's `author`. */
  author?: string;
}

/**
 * Evaluate one stage of a plan against its base's config, with Docker's rules: the base
 * image's ONBUILD triggers run first (and are not inherited); each instruction's
 * arguments are expanded with the ENV and ARG values in force at its line (ENV wins over
 * ARG; global ARGs only where the stage redeclares them); config instructions change the
 * config (ENTRYPOINT drops an inherited CMD unless this stage set CMD; shell forms wrap
 * in SHELL; WORKDIR is relative to the previous one); RUN, COPY and ADD become steps for
 * the executor with their arguments expanded and their cache key.
 *
 * Pure: the executor calls it once per stage, when the base's config is known (for a
 * `FROM <stage>`, the EvaluatedStage.config of that stage). Throws DockerfileError.
 */
export function evaluateStage(plan: BuildPlan, index: number, base: StageBaseConfig): EvaluatedStage {
  const planned = plan.stages[index];
  if (!planned) throw new RangeError(`no stage ${index} in the plan`);
  const file = plan.dockerfile.file;
  const lexer = new ShellLexer(plan.dockerfile.escape);
  const rawLexer = new ShellLexer(plan.dockerfile.escape, { rawQuotes: true, rawEscapes: true });
  // Each change makes a new config object that shares what it did not change: the steps
  // keep the config they ran under without a deep copy each (a Dockerfile of thousands
  // of ENV lines would otherwise hold thousands of copies of a growing Env).
  let config: ImageRuntimeConfig = structuredClone(base.config ?? {});
  const update = (changes: Partial<ImageRuntimeConfig>) => {
    config = { ...config, ...changes };
  };
  const inheritedTriggers = base.keepOnBuild ? [] : (config.OnBuild ?? []);
  if (!base.keepOnBuild) update({ OnBuild: null });
  const args = new Map<string, string | undefined>();
  const inherited = inheritableArgs(plan);
  let cmdSet = false;
  let author: string | undefined;
  const steps: Step[] = [];

  const fail = (where: SourceRange, problem: string): never => {
    throw new DockerfileError(file, where.startLine, where.endLine, problem);
  };
  // The Env as a map, rebuilt only when a step replaced the Env array.
  let envCache: { source: ImageRuntimeConfig['Env']; map: Map<string, string> } | undefined;
  const envMap = (): Map<string, string> => {
    if (envCache && envCache.source === config.Env) return envCache.map;
    const map = new Map<string, string>();
    for (const entry of config.Env ?? []) {
      const eq = entry.indexOf('=');
      if (eq < 0) map.set(entry, '');
      else if (!map.has(entry.slice(0, eq))) map.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    envCache = { source: config.Env, map };
    return map;
  };
  /** ENV first, then the ARGs in scope with a value, then undeclared proxy build args. */
  const variables = (): VariableSource => {
    const env = envMap();
    return {
      get: (name) => {
        if (env.has(name)) return env.get(name);
        if (args.has(name)) return args.get(name);
        if (predefinedArgs.includes(name)) return plan.buildArgs.get(name);
        return undefined;
      },
    };
  };
  const guarded = <T>(where: SourceRange, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof DockerfileError) throw err;
      if (err instanceof ShellSyntaxError || (err instanceof Error && err.constructor === Error)) return fail(where, err.message);
      throw err;
    }
  };
  const shell = (): string[] => [...(config.Shell && config.Shell.length > 0 ? config.Shell : defaultShell)];
  const workdir = () => config.WorkingDir || '/';
  const buildArgPairs = (): string[] =>
    [...args.entries()]
      .filter(([k, v]) => v !== undefined && !envMap().has(k))
      .map(([k, v]) => `${k}=${v}`)
      .sort();
  const proxyEnv = (): string[] =>
    predefinedArgs
      .filter((k) => !args.has(k) && plan.buildArgs.get(k) !== undefined && !envMap().has(k))
      .map((k) => `${k}=${plan.buildArgs.get(k)}`);
  const snapshot = () => config;

  const handle = (instruction: Exclude<Instruction, { keyword: 'FROM' }>, text: string, trigger: boolean) => {
    const where = instruction.location;
    guarded(where, () => {
      const vars = variables();
      const word = (t: string) => lexer.processWord(t, vars);
      const configStep = (comment: string, note?: string) => {
        const after = snapshot();
        const oneWord = instruction.keyword === 'WORKDIR';
        steps.push({
          kind: 'config',
          instruction,
          text,
          trigger,
          config: after,
          cacheKey: { kind: 'config', instruction: instruction.keyword, comment, config: after },
          createdBy: nopCreatedBy(after, comment, oneWord),
          ...(note === undefined ? {} : { note }),
        });
      };
      switch (instruction.keyword) {
        case 'ENV': {
          const pairs = instruction.pairs.map((p) => [word(p.key), word(p.value)] as const);
          const env = [...(config.Env ?? [])];
          const position = new Map<string, number>();
          env.forEach((e, i) => {
            const key = e.includes('=') ? e.slice(0, e.indexOf('=')) : e;
            if (!position.has(key)) position.set(key, i);
          });
          for (const [key, value] of pairs) {
            const at = position.get(key);
            if (at !== undefined) env[at] = `${key}=${value}`;
            else position.set(key, env.push(`${key}=${value}`) - 1);
          }
          update({ Env: env });
          configStep(`ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`);
          return;
        }
        case 'LABEL': {
          const pairs = instruction.pairs.map((p) => [word(p.key), word(p.value)] as const);
          const labels = { ...(config.Labels ?? {}) };
          for (const [key, value] of pairs) labels[key] = value;
          update({ Labels: labels });
          configStep(`LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`);
          return;
        }
        case 'ARG': {
          declareArgs(instruction, args, plan.buildArgs, word, inherited);
          const declared = instruction.args.map((a) => {
            const name = word(a.name);
            return a.default === undefined ? name : `${name}=${word(a.default)}`;
          });
          configStep(`ARG ${declared.join(' ')}`);
          return;
        }
        case 'EXPOSE': {
          const ports = instruction.ports.flatMap((p) => lexer.processWords(p, vars));
          const exposed = { ...(config.ExposedPorts ?? {}) };
          for (const port of ports) for (const key of exposedPortKeys(port)) exposed[key] = {};
          update({ ExposedPorts: exposed });
          configStep(`EXPOSE ${ports.join(' ')}`);
          return;
        }
        case 'WORKDIR': {
          const requested = word(instruction.path);
          if (requested === '') throw new Error('cannot normalize nothing');
          update({ WorkingDir: cleanPath(path.posix.isAbsolute(requested) ? requested : path.posix.join('/', workdir(), requested)) });
          configStep(`WORKDIR ${config.WorkingDir}`);
          return;
        }
        case 'USER':
          update({ User: word(instruction.user) });
          configStep(`USER ${config.User}`);
          return;
        case 'VOLUME': {
          const paths = instruction.paths.map(word);
          const volumes = { ...(config.Volumes ?? {}) };
          for (const p of paths) {
            if (p === '') throw new Error('VOLUME specified can not be an empty string');
            volumes[p] = {};
          }
          update({ Volumes: volumes });
          configStep(`VOLUME [${paths.join(' ')}]`);
          return;
        }
        case 'STOPSIGNAL': {
          const signal = word(instruction.signal);
          if (!isValidStopSignal(signal)) throw new Error(`Invalid signal: ${signal}`);
          update({ StopSignal: signal });
          configStep(`STOPSIGNAL ${signal}`);
          return;
        }
        case 'HEALTHCHECK': {
          const previous = config.Healthcheck?.Test;
          const note =
            previous && previous.length > 0 && previous[0] !== 'NONE'
              ? `Note: overriding previous HEALTHCHECK: [${previous.join(' ')}]`
              : undefined;
          update({ Healthcheck: healthConfig(instruction.health) });
          configStep(`HEALTHCHECK ${healthText(instruction.health)}`, note);
          return;
        }
        case 'SHELL':
          update({ Shell: [...instruction.shell] });
          configStep(`SHELL [${instruction.shell.join(' ')}]`);
          return;
        case 'CMD': {
          const c = instruction.command;
          // As Docker: `CMD` with nothing is the bare shell, `CMD []` an empty command.
          update({ Cmd: c.json ? [...c.args] : [...shell(), ...c.args], ArgsEscaped: false });
          if (c.args.length > 0) cmdSet = true;
          configStep(`CMD ${goQuoted(config.Cmd ?? [])}`);
          return;
        }
        case 'ENTRYPOINT': {
          const c = instruction.command;
          update({ Entrypoint: c.args.length === 0 ? null : c.json ? [...c.args] : [...shell(), ...c.args], ArgsEscaped: false });
          // An ENTRYPOINT resets the CMD the base image gave, unless this stage set one.
          if (!cmdSet) update({ Cmd: null });
          configStep(`ENTRYPOINT ${goQuoted(config.Entrypoint ?? [])}`);
          return;
        }
        case 'ONBUILD':
          update({ OnBuild: [...(config.OnBuild ?? []), instruction.expression] });
          configStep(`ONBUILD ${instruction.expression}`);
          return;
        case 'MAINTAINER':
          author = instruction.maintainer;
          configStep(`MAINTAINER ${instruction.maintainer}`);
          return;
        case 'RUN':
          steps.push(runStep(instruction, text, trigger, vars));
          return;
        case 'COPY':
        case 'ADD':
          steps.push(copyStep(instruction, text, trigger, vars));
          return;
      }
    });
  };

  const runStep = (instruction: RunInstruction, text: string, trigger: boolean, vars: VariableSource): RunStep => {
    const word = (t: string) => lexer.processWord(t, vars);
    const c = instruction.command;
    const inlineFiles: RunInlineFile[] = [];
    let argv: string[];
    if (c.json) argv = [...c.args];
    else {
      let script = c.args[0] ?? '';
      const single = c.heredocs.length === 1 ? parseHeredocWord(script) : undefined;
      if (single) {
        const heredoc = c.heredocs[0]!;
        const data = heredoc.chomp ? chompHeredoc(heredoc.content) : heredoc.content;
        if (data.startsWith('#!')) {
          // A script with its own interpreter line runs as a file, as BuildKit does.
          const file = `/dev/pipes/${heredoc.name}`;
          inlineFiles.push({ path: file, content: data, mode: 0o755 });
          script = file;
        } else script = data;
      } else {
        for (const heredoc of c.heredocs) script += `\n${heredoc.content}${heredoc.name}`;
      }
      argv = [...shell(), script];
    }
    const mounts = instruction.mounts.map((m) => resolveMount(parseRunMount(m.spec, word), workdir(), plan));
    const buildArgs = buildArgPairs();
    const env = [...(config.Env ?? []), ...buildArgs, ...proxyEnv()];
    const createdBy = buildArgs.length > 0 ? `|${buildArgs.length} ${buildArgs.join(' ')} ${argv.join(' ')}` : argv.join(' ');
    const after = snapshot();
    const network = instruction.network ?? 'default';
    return {
      kind: 'run',
      instruction,
      text,
      trigger,
      config: after,
      argv,
      env,
      buildArgs,
      user: config.User ?? '',
      workdir: workdir(),
      mounts,
      network,
      inlineFiles,
      createdBy,
      cacheKey: {
        kind: 'run',
        argv,
        buildArgs,
        config: after,
        mounts: mounts.map((m) => ({ ...m })),
        network,
        inlineFiles,
      },
    };
  };

  const copyStep = (instruction: CopyInstruction | AddInstruction, text: string, trigger: boolean, vars: VariableSource): CopyStep => {
    const word = (t: string) => lexer.processWord(t, vars);
    const sources: ExpandedSource[] = instruction.sources.map((s) =>
      s.kind === 'path'
        ? { kind: 'path', path: word(s.path) }
        : { kind: 'heredoc', name: s.name, content: s.expand ? rawLexer.processWord(s.content, vars) : s.content },
    );
    const dest = word(instruction.dest);
    const chown = instruction.chown === undefined ? undefined : word(instruction.chown);
    const chmod = instruction.chmod === undefined ? undefined : word(instruction.chmod);
    if (chmod !== undefined && chmod !== '') checkChmod(chmod);
    const from = instruction.keyword === 'COPY' && instruction.from !== undefined ? resolveStageRef(plan, instruction.from) : undefined;
    const after = snapshot();
    const step: CopyStep = {
      kind: instruction.keyword === 'COPY' ? 'copy' : 'add',
      instruction,
      text,
      trigger,
      config: after,
      sources,
      dest,
      workdir: workdir(),
      from,
      chown,
      chmod,
      link: instruction.link,
      exclude: instruction.exclude,
      parents: instruction.keyword === 'COPY' ? instruction.parents : false,
      cacheKey: {},
    };
    if (instruction.keyword === 'ADD') {
      step.keepGitDir = instruction.keepGitDir;
      step.checksum = instruction.checksum === undefined ? undefined : word(instruction.checksum);
      step.unpack = instruction.unpack;
    }
    step.cacheKey = {
      kind: step.kind,
      sources,
      dest,
      workdir: step.workdir,
      from,
      chown,
      chmod,
      link: step.link,
      exclude: step.exclude,
      parents: step.parents,
      keepGitDir: step.keepGitDir,
      checksum: step.checksum,
      unpack: step.unpack,
      config: after,
    };
    return step;
  };

  // The base image's ONBUILD triggers, each parsed as a one-instruction Dockerfile.
  let triggerBanner: string | undefined;
  if (inheritedTriggers.length > 0) {
    triggerBanner = `# Executing ${inheritedTriggers.length} build trigger${inheritedTriggers.length > 1 ? 's' : ''}`;
    const fromWhere = planned.source.from.location;
    for (const expression of inheritedTriggers) {
      const trigger = guarded(fromWhere, () => {
        const lines = readLogicalLines(expression, file).lines;
        if (lines.length !== 1) throw new Error('onbuild trigger should be a single expression');
        const parsed = parseInstruction(
          { ...lines[0]!, startLine: fromWhere.startLine, endLine: fromWhere.endLine },
          plan.dockerfile.escape,
          file,
        );
        if (parsed.keyword === 'FROM' || parsed.keyword === 'ONBUILD' || parsed.keyword === 'MAINTAINER') {
          throw new Error(`${parsed.keyword} isn't allowed as an ONBUILD trigger`);
        }
        return parsed;
      });
      handle(trigger, '', true);
    }
  }

  let number = planned.firstStep;
  const fromText = `Step ${number}/${plan.totalSteps} : ${planned.source.from.code}`;
  for (const instruction of planned.source.instructions) {
    number++;
    handle(instruction, `Step ${number}/${plan.totalSteps} : ${instruction.code}`, false);
  }
  return { stage: index, fromText, triggerBanner, steps, config, author };
}

/**
 * `--chmod`: an octal mode up to 07777, or a symbolic one as chmod(1) takes it
 * (`u+x`, `a=rX,go-w`), which BuildKit accepts too. The executor applies it.
 */
function checkChmod(chmod: string): void {
  if (/^\d+$/.test(chmod)) {
    if (!/^[0-7]+$/.test(chmod) || Number.parseInt(chmod, 8) > 0o7777) {
      throw new Error(`invalid chmod parameter: '${chmod}'. it should be octal string and between 0 and 07777`);
    }
    return;
  }
  if (!/^[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+(?:,[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+)*$/.test(chmod)) {
    throw new Error(`invalid chmod parameter: '${chmod}'. it should be octal string and between 0 and 07777, or a symbolic mode`);
  }
}

/** Go's filepath.Clean for absolute POSIX paths: no `.`/`..`, no doubled or trailing `/`. */
function cleanPath(p: string): string {
  const normal = path.posix.normalize(p);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

/** Go's `%q` of a []string: `["/bin/sh" "-c" "echo hi"]` (the classic builder's history text). */
function goQuoted(list: readonly string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;
}

function healthConfig(h: HealthcheckSpec): NonNullable<ImageRuntimeConfig['Healthcheck']> {
  const out: NonNullable<ImageRuntimeConfig['Healthcheck']> = { Test: [...h.test] };
  if (h.test[0] === 'NONE') return out;
  if (h.interval) out.Interval = h.interval;
  if (h.timeout) out.Timeout = h.timeout;
  if (h.startPeriod) out.StartPeriod = h.startPeriod;
  if (h.startInterval) out.StartInterval = h.startInterval;
  if (h.retries) out.Retries = h.retries;
  return out;
}

/** Go's `%+v` of the health config, as the classic builder's history shows it. */
function healthText(h: HealthcheckSpec): string {
  if (h.test[0] === 'NONE') return '&{Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}';
  return `&{Test:[${h.test.join(' ')}] Interval:${formatGoDuration(h.interval)} Timeout:${formatGoDuration(h.timeout)} StartPeriod:${formatGoDuration(h.startPeriod)} StartInterval:${formatGoDuration(h.startInterval)} Retries:${h.retries}}`;
}

/**
 * Resolve a RUN mount's paths the way BuildKit does: a relative target is under the
 * working directory; `/` is refused; a cache's id defaults to its target as written; a
 * secret's id to its source or its target's base name, and its target to
 * `/run/secrets/<id>`.
 */
function resolveMount(mount: RunMount, workdir: string, plan: BuildPlan): ResolvedRunMount {
  let target = mount.target ?? '';
  let id = mount.id;
  if (mount.type === 'secret' || mount.type === 'ssh') {
    if (mount.type === 'secret') {
      id ??= mount.source ?? path.posix.basename(target);
      if (target === '') target = `/run/secrets/${id}`;
    } else {
      // The path BuildKit gives the first agent socket of a RUN.
      id ??= 'default';
      if (target === '') target = '/run/buildkit/ssh_agent.0';
    }
  }
  if (target === '') throw new Error(`invalid mount target ${JSON.stringify(target)}`);
  target = cleanPath(path.posix.isAbsolute(target) ? target : path.posix.join('/', workdir, target));
  if (target === '/') throw new Error(`invalid mount target ${JSON.stringify(target)}`);
  // As BuildKit: the cache's id is its target as written (cleaned), not the resolved path.
  if (mount.type === 'cache') id ??= cleanPath(mount.target ?? target);
  const resolved: ResolvedRunMount = { ...mount, target, id };
  if (mount.from !== undefined) resolved.fromRef = resolveStageRef(plan, mount.from);
  return resolved;
}
