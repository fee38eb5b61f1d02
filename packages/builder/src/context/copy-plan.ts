import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument, NotFound } from '@berth/core';
import { cleanPath } from './clean-path.js';
import { deviceNumbers } from './device-numbers.js';
import { IgnoreMatcher } from './dockerignore.js';
import { compileGoPattern, hasWildcards } from './go-pattern.js';

/**
 * Where COPY/ADD take files from: a build context (its root and ignore rules; a symlink
 * that leads out of it is refused) or another stage's or image's root filesystem
 * (`COPY --from`; symlinks are resolved inside it as if it were `/`, as Docker does).
 */
export interface CopySourceTree {
  root: string;
  /**
   * How the tree is read (default: the filesystem). A context kept as an index of its
   * tar (`ContextIndex`) answers the same calls from memory, so a COPY's plan and cache
   * key need no file of the context on disk.
   */
  fs?: TreeFs;
  ignore?: IgnoreMatcher;
  /** `refuse` (a context: a symlink out is an error) or `in-root` (a root filesystem: `/` is its root). */
  symlinks: 'refuse' | 'in-root';
  /** How sources are named in errors ("the build context", "stage builder"). */
  name: string;
}

/** The calls `planCopy` reads a tree with: node:fs's, or an index's. */
export interface TreeFs {
  lstat(hostPath: string): Stats;
  readdir(hostPath: string): string[];
  readlink(hostPath: string): string;
  /** `security.capability` of a file, when the tree is not on disk (else read from the file). */
  capability?(hostPath: string): string | undefined;
}

const diskFs: TreeFs = {
  lstat: (p) => lstatSync(p),
  readdir: (p) => readdirSync(p),
  readlink: (p) => readlinkSync(p),
};

function fsOf(tree: CopySourceTree): TreeFs {
  return tree.fs ?? diskFs;
}

/** The file side of one COPY or ADD instruction, as the Dockerfile parser hands it over. */
export interface CopyRequest {
  /** The sources as written (variables already expanded): paths or Go wildcards relative to the tree's root. */
  sources: readonly string[];
  /** The destination as written; relative to `workdir` unless absolute; a trailing `/` makes it a directory. */
  dest: string;
  /** The image's WORKDIR (default `/`). */
  workdir?: string;
  /** `--parents`: keep each source's path (from the root, or from a `/./` pivot in it) under `dest`. */
  parents?: boolean;
  /** `--exclude` patterns (`.dockerignore` syntax), matched against paths inside each source. */
  exclude?: readonly string[];
}

/** The kinds of file COPY writes. */
export type CopyEntryKind = 'file' | 'directory' | 'symlink' | 'hardlink' | 'fifo' | 'char-device' | 'block-device';

/** One file COPY writes: where it comes from, where it goes, what it is. */
export interface CopyEntry {
  kind: CopyEntryKind;
  /** Host path of the source (for a hardlink, of the first name of the inode). */
  source: string;
  /** Absolute path inside the target root, without a trailing slash. */
  target: string;
  /** The source's permission bits (`& 0o7777`), before `--chmod`. */
  mode: number;
  size: number;
  mtimeMs: number;
  dev: number;
  ino: number;
  /** A symlink's target text; for a hardlink, the `target` of the entry it links to. */
  link?: string;
  /** A device's numbers (`char-device`, `block-device`). */
  rdev?: { major: number; minor: number };
  /** A file named by a source itself (not found inside a source directory): what ADD may unpack. */
  topLevel?: boolean;
  /** `security.capability` as the tree's `fs` told it (a tree not on disk); else it is read from `source`. */
  capability?: string;
}

/** What COPY writes, in an order where every directory comes before what is in it. */
export interface CopyPlan {
  entries: CopyEntry[];
  /**
   * Directories to create (if missing) before the entries: the destination of a
   * directory source, the destination directory of several sources, `--parents` parents.
   */
  directories: string[];
  /**
   * Top-level file sources whose destination was not given as a directory: written at
   * `dest`, unless the target already has a directory there (then under it). Decided
   * when writing, when the target root is known.
   */
  fileOrDirectory: Array<{ entryIndex: number; name: string }>;
}

interface Match {
  /** Path relative to the tree's root, cleaned, '' for the root itself. */
  rel: string;
  /** The real source, symlinks at the top resolved: relative to root. */
  resolved: string;
  stat: Stats;
  /** For `--parents`: the part of `rel` kept under dest. */
  keep: string;
}

/**
 * Resolve COPY/ADD sources inside `tree` into the entries to write, with Docker's rules:
 * - a source is cleaned and taken from the tree's root (`/x` and `x` are the same);
 *   one that leaves it (`../x`), or a symlink in the context that points out, is an
 *   InvalidArgument naming the source: `forbidden path outside the build context`;
 * - a source with `*`, `?` or `[` is a Go `filepath.Match` pattern matched component by
 *   component (so `*` never crosses `/`); no match is an error;
 * - a path `.dockerignore` excludes does not exist for COPY (the same error as missing);
 * - a directory source copies its contents, not itself; a symlink given as a source is
 *   followed (inside the tree), one found inside a directory is copied as a symlink;
 * - several sources need a directory destination (ending in `/`); a single file goes to
 *   `dest`, or under it when `dest` ends in `/` or is an existing directory;
 * - `--parents` keeps each source's path below the root (or below a `/./` in it);
 * - `--exclude` patterns leave out what they match inside each source;
 * - files with the same inode become hardlinks to the first one; named pipes and devices
 *   are copied as such; sockets are left out (a tar, Docker's way of copying, cannot hold one).
 */
export function planCopy(tree: CopySourceTree, request: CopyRequest): CopyPlan {
  const workdir = request.workdir ?? '/';
  const rawDest = request.dest;
  const destIsDir = rawDest.endsWith('/') || rawDest === '.' || rawDest.endsWith('/.');
  const dest = cleanPath(path.posix.isAbsolute(rawDest) ? rawDest : path.posix.join('/', workdir, rawDest));
  const exclude = request.exclude && request.exclude.length > 0 ? new IgnoreMatcher(request.exclude) : undefined;

  const matches: Match[] = [];
  for (const source of request.sources) matches.push(...matchSource(tree, source, request.parents ?? false));
  if (matches.length > 1 && !destIsDir) {
    throw new InvalidArgument('When using COPY with more than one source file, the destination must be a directory and end with a /');
  }

  const plan: CopyPlan = { entries: [], directories: [], fileOrDirectory: [] };
  const inodes = new Map<string, string>();
  for (const match of matches) {
    const keep = request.parents ? match.keep : '';
    const base = keep === '' ? dest : path.posix.join(dest, keep);
    if (match.stat.isDirectory()) {
      // --parents keeps the directory itself; plain COPY its contents only.
      const into = request.parents ? base : dest;
      plan.directories.push(into);
      walkDirectory(tree, match.resolved, into, '', exclude, plan, inodes);
    } else {
      const name = path.posix.basename(match.rel);
      if (exclude?.ignores(name) || exclude?.ignores(match.rel)) continue;
      let target: string;
      if (request.parents) {
        target = base;
        plan.directories.push(path.posix.dirname(target));
      } else if (destIsDir) {
        target = path.posix.join(dest, name);
        plan.directories.push(dest);
      } else {
        target = dest;
        plan.fileOrDirectory.push({ entryIndex: plan.entries.length, name });
      }
      pushEntry(plan, inodes, path.join(tree.root, match.resolved), target, match.stat, tree, match.rel);
      plan.entries[plan.entries.length - 1]!.topLevel = true;
    }
  }
  return plan;
}

function forbidden(tree: CopySourceTree, source: string, why = ''): InvalidArgument {
  return new InvalidArgument(`forbidden path outside ${tree.name}: ${source}${why}`);
}

function notFound(tree: CopySourceTree, source: string): NotFound {
  const excluded = tree.ignore ? ' or excluded by .dockerignore' : '';
  return new NotFound(`file not found in ${tree.name}${excluded}: ${source}`);
}

/** The matches of one source as written. */
function matchSource(tree: CopySourceTree, source: string, parents: boolean): Match[] {
  // `a/./b` marks the pivot of --parents: what follows it is kept under dest.
  const pivotAt = parents ? source.indexOf('/./') : -1;
  const stripped = source.replace(/^\/+/, '');
  const cleaned = cleanPath(stripped);
  if (cleaned === '..' || cleaned.startsWith('../')) throw forbidden(tree, source);
  const rel = cleaned === '.' ? '' : cleaned;
  const pivot = pivotAt < 0 ? '' : cleanPath(source.slice(0, pivotAt).replace(/^\/+/, ''));
  const keepOf = (r: string) => {
    if (pivot === '' || pivot === '.') return r;
    return r === pivot ? '' : r.startsWith(`${pivot}/`) ? r.slice(pivot.length + 1) : r;
  };

  if (!hasWildcards(rel)) {
    if (rel !== '' && tree.ignore?.ignores(rel) && !tree.ignore.hasExceptions) throw notFound(tree, source);
    const resolved = resolveSource(tree, rel, source);
    const stat = fsOf(tree).lstat(path.join(tree.root, resolved));
    // Ignored files were never sent: neither the name given nor a symlink's target counts.
    if (!stat.isDirectory() && [rel, resolved].some((p) => p !== '' && tree.ignore?.ignores(p))) throw notFound(tree, source);
    return [{ rel, resolved, stat, keep: keepOf(rel) }];
  }

  // Component by component: `*` never crosses `/`, so the depth of a match is the pattern's.
  const components = rel.split('/');
  let level: string[] = [''];
  for (let i = 0; i < components.length; i++) {
    const component = components[i]!;
    const last = i === components.length - 1;
    const next: string[] = [];
    const regex = hasWildcards(component) ? compileGoPattern(component) : undefined;
    for (const dir of level) {
      let names: string[];
      if (regex === undefined) {
        names = [component.replace(/\\(.)/g, '$1')];
      } else {
        try {
          names = fsOf(tree)
            .readdir(path.join(tree.root, dir))
            .filter((n) => regex.test(n));
        } catch {
          continue;
        }
      }
      for (const name of names.sort()) {
        const child = dir === '' ? name : `${dir}/${name}`;
        let st: Stats;
        try {
          st = fsOf(tree).lstat(path.join(tree.root, child));
        } catch {
          continue;
        }
        if (!last && !st.isDirectory()) continue;
        next.push(child);
      }
    }
    level = next;
  }
  const found: Match[] = [];
  for (const rel of level) {
    if (tree.ignore?.ignores(rel)) continue;
    const resolved = resolveSource(tree, rel, rel);
    found.push({ rel, resolved, stat: fsOf(tree).lstat(path.join(tree.root, resolved)), keep: keepOf(rel) });
  }
  if (found.length === 0) throw new NotFound(`no source files were specified: no file in ${tree.name} matches ${source}`);
  return found;
}

const maxLinks = 40;

/**
 * `rel` with every symlink along it resolved inside the tree, as a path relative to its
 * root. In a context a symlink that leads out (absolute, or `..` past the root) is an
 * InvalidArgument naming `source`; in a root filesystem it resolves as if root were `/`.
 */
function resolveSource(tree: CopySourceTree, rel: string, source: string): string {
  const pending = rel === '' ? [] : rel.split('/');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.' || part === '') continue;
    if (part === '..') {
      if (done.length === 0) {
        if (tree.symlinks === 'refuse') throw forbidden(tree, source, ' (a symlink in it leads out)');
        continue;
      }
      done.pop();
      continue;
    }
    const here = path.join(tree.root, ...done, part);
    let st: Stats;
    try {
      st = fsOf(tree).lstat(here);
    } catch {
      throw notFound(tree, source);
    }
    if (!st.isSymbolicLink()) {
      if (pending.length > 0 && !st.isDirectory()) throw notFound(tree, source);
      done.push(part);
      continue;
    }
    if (++links > maxLinks) throw new InvalidArgument(`too many levels of symbolic links: ${source}`);
    const target = fsOf(tree).readlink(here);
    if (target.startsWith('/')) {
      if (tree.symlinks === 'refuse') throw forbidden(tree, source, ` (a symlink in it points to ${target})`);
      done.length = 0;
    }
    pending.unshift(...target.split('/'));
  }
  return done.join('/');
}

function pushEntry(
  plan: CopyPlan,
  inodes: Map<string, string>,
  source: string,
  target: string,
  st: Stats,
  tree: CopySourceTree,
  rel: string,
): void {
  const common = { source, target, mode: st.mode & 0o7777, size: 0, mtimeMs: st.mtimeMs, dev: st.dev, ino: st.ino };
  if (st.isDirectory()) {
    plan.entries.push({ ...common, kind: 'directory' });
  } else if (st.isSymbolicLink()) {
    plan.entries.push({ ...common, kind: 'symlink', link: fsOf(tree).readlink(source) });
  } else if (st.isFile()) {
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? inodes.get(key) : undefined;
    if (first !== undefined) {
      plan.entries.push({ ...common, kind: 'hardlink', link: first });
    } else {
      if (st.nlink > 1) inodes.set(key, target);
      // A tree not on disk says what it has (nothing: ''); on disk, hashing reads the file's.
      const capability = tree.fs?.capability ? (tree.fs.capability(source) ?? '') : undefined;
      plan.entries.push({ ...common, kind: 'file', size: st.size, ...(capability !== undefined ? { capability } : {}) });
    }
  } else if (st.isFIFO()) {
    plan.entries.push({ ...common, kind: 'fifo' });
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    plan.entries.push({ ...common, kind: st.isCharacterDevice() ? 'char-device' : 'block-device', rdev: deviceNumbers(st.rdev) });
  } else if (!st.isSocket()) {
    throw new InvalidArgument(`${rel} in ${tree.name} is a file of an unknown kind`);
  }
  // A socket is left out, as a tar (Docker's copy) cannot hold one.
}

/**
 * Add everything below `dirRel` (relative to the tree's root) to the plan under `into`,
 * names sorted so the plan (and the hash made from it) does not depend on the order a
 * filesystem lists them in. `inside` is the path below the source, for `--exclude`.
 */
function walkDirectory(
  tree: CopySourceTree,
  dirRel: string,
  into: string,
  inside: string,
  exclude: IgnoreMatcher | undefined,
  plan: CopyPlan,
  inodes: Map<string, string>,
): void {
  const names = fsOf(tree).readdir(path.join(tree.root, dirRel)).sort();
  for (const name of names) {
    const rel = dirRel === '' ? name : `${dirRel}/${name}`;
    const below = inside === '' ? name : `${inside}/${name}`;
    const host = path.join(tree.root, rel);
    const st = fsOf(tree).lstat(host);
    const target = path.posix.join(into, name);
    const ignored = (tree.ignore?.ignores(rel) ?? false) || (exclude?.ignores(below) ?? false);
    if (ignored) {
      // An exception further down (`!dir/keep`) can bring back part of an ignored directory.
      const exceptions = (tree.ignore?.hasExceptions ?? false) || (exclude?.hasExceptions ?? false);
      if (st.isDirectory() && exceptions) {
        const before = plan.entries.length;
        plan.entries.push({
          kind: 'directory',
          source: host,
          target,
          mode: st.mode & 0o7777,
          size: 0,
          mtimeMs: st.mtimeMs,
          dev: st.dev,
          ino: st.ino,
        });
        walkDirectory(tree, rel, target, below, exclude, plan, inodes);
        if (plan.entries.length === before + 1) plan.entries.pop();
      }
      continue;
    }
    pushEntry(plan, inodes, host, target, st, tree, rel);
    if (st.isDirectory()) walkDirectory(tree, rel, target, below, exclude, plan, inodes);
  }
}
