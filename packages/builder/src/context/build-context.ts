import { closeSync, constants, promises as fsp, fstatSync, readFileSync } from 'node:fs';
import { InvalidArgument, NotFound } from '@berth/core';
import { openInRoot } from '@berth/native';
import { cleanPath } from './clean-path.js';
import { IgnoreMatcher, parseDockerignore } from './dockerignore.js';

/** The name Docker reads when no `-f` is given, and its lowercase fallback. */
export const defaultDockerfileName = 'Dockerfile';

/**
 * A build context in the one form the rest of the builder reads: a directory, the
 * Dockerfile already read out of it, and the `.dockerignore` rules that decide which of
 * its files COPY and ADD may take.
 *
 * Every source (a tar stream, a git repository, a URL, a Dockerfile alone) is made into
 * a directory berth owns under the build's work directory (`owned`: `dispose` removes
 * it); a directory on the daemon's host can also be read in place (`owned` false:
 * nothing in it is ever written, and every read is resolved inside it, so a symlink in
 * it cannot lead a COPY out). The ignore rules are applied when sources are resolved,
 * not by deleting files, so the two forms behave alike.
 *
 * Lifecycle: made by one of the `contextFrom*` functions or `openDirectoryContext`,
 * read by the executor for the whole build, then `dispose()`d once (also on failure).
 */
export interface BuildContext {
  /** The context's root directory (absolute, no symlink in it). */
  readonly root: string;
  /** Whether berth made `root` (and `dispose` removes what it made). */
  readonly owned: boolean;
  /** The Dockerfile's path relative to `root`, slash-separated (`Dockerfile` for one from stdin). */
  readonly dockerfilePath: string;
  /** The Dockerfile's bytes. */
  readonly dockerfile: Buffer;
  /** Which paths COPY and ADD may not take: `<Dockerfile>.dockerignore`, else `.dockerignore`, else nothing. */
  readonly ignore: IgnoreMatcher;
  /** Where the ignore rules came from (relative to root), or undefined. */
  readonly ignoreFile: string | undefined;
  /** Remove what berth made for this context. Idempotent. */
  dispose(): Promise<void>;
}

/** Options shared by every context source. */
export interface ContextOptions {
  /**
   * The Dockerfile's path inside the context (the API's `dockerfile` parameter, `-f`),
   * default `Dockerfile` (then `dockerfile` when that is missing, as Docker).
   */
  dockerfile?: string;
}

/** A context whose Dockerfile is given rather than read from the directory (`build - < Dockerfile`). */
export interface GivenDockerfile {
  content: Buffer;
}

/**
 * Make the `BuildContext` of a directory: find and read its Dockerfile, read its ignore
 * rules. `cleanup` is what `dispose` runs (nothing for a directory read in place). When
 * reading fails, `cleanup` runs before the error is thrown, so nothing is left half-made.
 */
export async function contextOfDirectory(
  root: string,
  options: ContextOptions & { given?: GivenDockerfile; owned: boolean; cleanup?: () => Promise<void> },
): Promise<BuildContext> {
  try {
    const realRoot = await fsp.realpath(root);
    let dockerfilePath: string;
    let dockerfile: Buffer;
    if (options.given) {
      dockerfilePath = options.dockerfile === undefined ? defaultDockerfileName : dockerfileName(options.dockerfile);
      dockerfile = options.given.content;
    } else {
      ({ path: dockerfilePath, content: dockerfile } = readDockerfile(realRoot, options.dockerfile));
    }
    const specific = `${dockerfilePath}.dockerignore`;
    let ignoreFile: string | undefined;
    let ignoreText: string | undefined;
    for (const candidate of [specific, '.dockerignore']) {
      ignoreText = readRegularFile(realRoot, candidate);
      if (ignoreText !== undefined) {
        ignoreFile = candidate;
        break;
      }
    }
    const ignore = new IgnoreMatcher(ignoreText === undefined ? [] : parseDockerignore(ignoreText));
    let disposed = false;
    return {
      root: realRoot,
      owned: options.owned,
      dockerfilePath,
      dockerfile,
      ignore,
      ignoreFile,
      async dispose() {
        if (disposed) return;
        disposed = true;
        await options.cleanup?.();
      },
    };
  } catch (err) {
    await options.cleanup?.();
    throw err;
  }
}

/**
 * A directory on this host read in place: nothing is copied or written; `dispose` does nothing.
 * For `berth build` run beside the daemon and for the executor's own tests.
 */
export async function openDirectoryContext(dir: string, options: ContextOptions = {}): Promise<BuildContext> {
  const st = await fsp.stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new NotFound(`build context directory not found: ${dir}`);
  return contextOfDirectory(dir, { ...options, owned: false });
}

/** The `dockerfile` option cleaned; a path out of the context is an InvalidArgument naming it. */
export function dockerfileName(name: string): string {
  const cleaned = cleanPath(name.replace(/^\/+/, ''));
  if (cleaned === '.' || cleaned === '..' || cleaned.startsWith('../')) {
    throw new InvalidArgument(`the Dockerfile (${name}) must be within the build context`);
  }
  return cleaned;
}

function readDockerfile(root: string, requested: string | undefined): { path: string; content: Buffer } {
  const name = dockerfileName(requested ?? defaultDockerfileName);
  const candidates = requested === undefined ? [name, name.toLowerCase()] : [name];
  for (const candidate of candidates) {
    const content = readRegularFileBytes(root, candidate);
    if (content !== undefined) return { path: candidate, content };
  }
  throw new NotFound(`Cannot locate specified Dockerfile: ${name}`);
}

function readRegularFile(root: string, name: string): string | undefined {
  return readRegularFileBytes(root, name)?.toString('utf8');
}

/**
 * The bytes of `name` inside `root` (openat2 RESOLVE_IN_ROOT: a symlink in the context
 * resolves inside it), or undefined when it does not exist. A directory there is an error.
 */
function readRegularFileBytes(root: string, name: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openInRoot(root, name, constants.O_RDONLY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
  try {
    if (!fstatSync(fd).isFile()) throw new InvalidArgument(`${name} in the build context is not a regular file`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
