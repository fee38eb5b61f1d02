import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument } from '@berth/core';
import { resolveInRoot } from '@berth/native';
import { cleanPath } from './clean-path.js';

/** A git URL split as Docker does: `<repository>#<ref>:<subdir>`. */
export interface GitSource {
  /** What `git` fetches from (a URL, `git@host:path`, or a path on this host). */
  repository: string;
  /** A branch, tag or commit; undefined for the remote's HEAD. */
  ref: string | undefined;
  /** A directory of the checkout to use as the root ('' for the whole checkout). */
  subdir: string;
}

/**
 * Whether `remote` names a git repository for a build context or an ADD source, as
 * Docker's `urlutil.IsGitURL` decides (`git://`, `git@`, `github.com/`, an http(s) URL
 * whose path ends in `.git`), plus, for berth, a `file://` URL.
 */
export function isGitUrl(remote: string): boolean {
  if (/^(git:\/\/|git@|github\.com\/|file:\/\/)/.test(remote)) return true;
  const base = remote.split('#')[0]!;
  return /^https?:\/\//.test(remote) && /\.git$/.test(base);
}

/** Split `remote` into repository, ref and subdir (`#ref:subdir`, both optional). */
export function parseGitSource(remote: string): GitSource {
  const hash = remote.indexOf('#');
  const repository = hash < 0 ? remote : remote.slice(0, hash);
  const fragment = hash < 0 ? '' : remote.slice(hash + 1);
  const colon = fragment.indexOf(':');
  const ref = (colon < 0 ? fragment : fragment.slice(0, colon)) || undefined;
  const rawSubdir = colon < 0 ? '' : fragment.slice(colon + 1);
  if (repository === '') throw new InvalidArgument(`invalid git URL: ${JSON.stringify(remote)}`);
  if (ref?.startsWith('-')) throw new InvalidArgument(`invalid git reference: ${JSON.stringify(ref)}`);
  let subdir = '';
  if (rawSubdir !== '') {
    subdir = cleanPath(rawSubdir.replace(/^\/+/, ''));
    if (subdir === '.') subdir = '';
    if (subdir === '..' || subdir.startsWith('../'))
      throw new InvalidArgument(`git subdirectory ${JSON.stringify(rawSubdir)} leaves the repository`);
  }
  return { repository, ref, subdir };
}

/** Options of `cloneGit`. */
export interface CloneOptions {
  /** Keep the checkout's `.git` directory (BuildKit's `--keep-git-dir`; default false: removed). */
  keepGitDir?: boolean;
}

/** Bounded so a hung transport fails the build instead of holding it. */
const gitTimeoutMs = 10 * 60_000;

/**
 * Check out `source` into the empty directory `dir`, as Docker's git context does:
 * `git init`, a shallow fetch of the ref (a full fetch when the server will not serve a
 * commit by hash shallowly), a checkout of what was fetched, then the submodules
 * (`git submodule update --init --recursive --depth 1`). The user's and the system's git
 * configuration are not read; git never prompts. Returns the directory to use as the
 * root (`dir` or the subdirectory the fragment names, resolved inside the checkout;
 * a missing one is an InvalidArgument). A failing git is an InvalidArgument naming the
 * repository and carrying git's message; the caller removes `dir`.
 */
export async function cloneGit(source: GitSource, dir: string, options: CloneOptions = {}): Promise<string> {
  const what = `git repository ${source.repository}${source.ref ? `#${source.ref}` : ''}`;
  const git = (args: string[]) => runGit(args, dir, what);
  await git(['init', '-q']);
  await git(['remote', 'add', 'origin', source.repository]);
  const ref = source.ref ?? 'HEAD';
  try {
    await git(['fetch', '-q', '--depth', '1', '--no-tags', 'origin', ref]);
    await git(['checkout', '-q', 'FETCH_HEAD']);
  } catch (shallowError) {
    // A commit named by (a prefix of) its hash: fetch everything, then check it out.
    try {
      await git(['fetch', '-q', '--tags', 'origin']);
      await git(['checkout', '-q', ref]);
    } catch {
      throw shallowError;
    }
  }
  await git(['-c', 'protocol.file.allow=always', 'submodule', 'update', '-q', '--init', '--recursive', '--depth', '1']);
  if (!options.keepGitDir) await fsp.rm(path.join(dir, '.git'), { recursive: true, force: true });
  if (source.subdir === '') return dir;
  let root: string;
  try {
    root = resolveInRoot(dir, source.subdir);
  } catch {
    throw new InvalidArgument(`${what}: subdirectory ${source.subdir} not found`);
  }
  const st = await fsp.stat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new InvalidArgument(`${what}: subdirectory ${source.subdir} not found`);
  return root;
}

function runGit(args: string[], cwd: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      {
        cwd,
        timeout: gitTimeoutMs,
        maxBuffer: 4 << 20,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: cwd,
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_CONFIG_GLOBAL: '/dev/null',
          GIT_TERMINAL_PROMPT: '0',
          GIT_ASKPASS: 'true',
          LC_ALL: 'C',
        },
      },
      (err, _stdout, stderr) => {
        if (!err) return resolve();
        const message = String(stderr).trim().split('\n').slice(-3).join('; ') || err.message;
        reject(new InvalidArgument(`${what}: git ${args.find((a) => !a.startsWith('-')) ?? ''} failed: ${message}`, { cause: err }));
      },
    );
  });
}
