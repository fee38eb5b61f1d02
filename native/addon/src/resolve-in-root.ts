import { closeSync, constants, lstatSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { binding } from './binding.js';

/**
 * open(2) of `p` inside `root` with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS):
 * absolute symlinks, relative symlinks and `..` are resolved as if `root` were `/`, so
 * nothing inside the tree can send the open outside it (CVE-2018-15664 class).
 * `flags` are fs.constants O_* bits; the fd is close-on-exec. The caller closes it
 * (fs.closeSync). Errors carry `code` (ENOENT, ELOOP, ...) and name the path.
 */
export function openInRoot(root: string, p: string, flags: number, mode = 0o666): number {
  return binding.openInRoot(root, p, flags, mode);
}

const maxSymlinks = 40;

/**
 * The host path that `p` names inside `root`, resolved as if root were `/`: symlinks
 * cannot escape root and `..` stops at it. When the last component does not exist the
 * parent is resolved and the name appended (the path a create would use); a dangling
 * symlink as the last component is followed, inside root, to where it points. A
 * missing directory in the middle throws (code ENOENT).
 */
export function resolveInRoot(root: string, p: string): string {
  return resolve(root, p, 0);
}

function resolve(root: string, p: string, links: number): string {
  try {
    return hostPathOf(root, p, binding.O_PATH);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const name = path.posix.basename(p);
  if (name === '' || name === '.' || name === '..') throw notFound(root, p);
  const parentPath = path.posix.dirname(p);
  const parent = hostPathOf(root, parentPath, binding.O_PATH | constants.O_DIRECTORY);
  const candidate = path.join(parent, name);
  let isLink = false;
  try {
    isLink = lstatSync(candidate).isSymbolicLink();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!isLink) return candidate;
  // A dangling symlink: its target, taken inside root, is where a create would land.
  if (links >= maxSymlinks) {
    throw Object.assign(new Error(`ELOOP: too many symbolic links, resolveInRoot '${path.join(root, p)}'`), {
      code: 'ELOOP',
      path: path.join(root, p),
    });
  }
  const target = readlinkSync(candidate);
  return resolve(root, path.posix.isAbsolute(target) ? target : path.posix.join(parentPath, target), links + 1);
}

function hostPathOf(root: string, p: string, flags: number): string {
  const fd = binding.openInRoot(root, p, flags, 0);
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } finally {
    closeSync(fd);
  }
}

function notFound(root: string, p: string): Error {
  const shown = path.join(root, p);
  return Object.assign(new Error(`ENOENT: no such file or directory, resolveInRoot '${shown}'`), {
    code: 'ENOENT',
    errno: -2,
    syscall: 'openat2',
    path: shown,
  });
}
