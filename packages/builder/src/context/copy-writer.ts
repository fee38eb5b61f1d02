import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument } from '@berth/core';
import { getXattr, type NewFile, resolveInRoot, setXattr, writeNewFiles, writeNewFilesMax } from '@berth/native';
import type { ModeChange } from './chmod.js';
import type { Owner } from './chown.js';
import type { CopyEntry, CopyPlan } from './copy-plan.js';

/** The only extended attribute Docker carries in layers (`security.capability` of a binary); COPY keeps it too. */
export const copiedXattrs = ['security.capability'] as const;

/** How COPY writes: the owner of everything written, and `--chmod`. */
export interface CopyWriteOptions {
  /** Owner of every file and every directory COPY creates (default root, 0:0, as Docker). */
  owner?: Owner;
  /** `--chmod`; without it files keep their source's permission bits. */
  chmod?: ModeChange;
}

/** Longest stretch of synchronous copying before the event loop gets a turn. */
const yieldEveryMs = 20;

/**
 * Write a `planCopy` plan into `targetRoot` (the mounted snapshot of the step). Every
 * target path is resolved inside the root as if it were `/`: a symlink already in the
 * image on the way (`/app -> /`, `/etc -> ../../..`) is followed component by component
 * with `..` stopping at the root and absolute targets taken from it (the semantics of
 * openat2 RESOLVE_IN_ROOT, which `resolveInRoot` uses for the rest), so it can never
 * send a write out of the snapshot; a symlink at the final name is replaced, never
 * written through. Missing parent directories are made 0755
 * and owned like the copied files. Files keep their content, permission bits (or
 * `--chmod`'s), mtimes and `security.capability`; owners are `owner` (Docker ignores
 * the context's); symlinks are written as they are; hardlinks stay hardlinks; a
 * directory's mtime is set once everything in it is written. Something in the way is
 * replaced, except that a directory is never replaced by a file (an InvalidArgument).
 * Files up to 256 KiB without `security.capability` are made whole in batches of up to
 * 256 on the thread pool (`writeNewFiles`: O_EXCL|O_NOFOLLOW, owner, mode, times).
 * A failure leaves what was written: the snapshot is the caller's to discard.
 */
export async function writeCopyPlan(plan: CopyPlan, targetRoot: string, options: CopyWriteOptions = {}): Promise<void> {
  const owner = options.owner ?? { uid: 0, gid: 0 };
  const root = fs.realpathSync(targetRoot);
  const made = new Map<string, string>();
  /**
   * The host path of directory `target` (absolute in the image), made with its missing
   * parents. Symlinks on the way are followed as the kernel would with the root as `/`:
   * an absolute target from the root, `..` from the directory the link is in, never
   * above the root.
   */
  const ensureDir = (target: string, links = 0): string => {
    if (target === '/' || target === '') return root;
    const known = made.get(target);
    if (known !== undefined) return known;
    const parentHost = ensureDir(path.posix.dirname(target), links);
    const host = path.join(parentHost, path.posix.basename(target));
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(host);
    } catch {
      st = undefined;
    }
    let result = host;
    if (st === undefined) {
      fs.mkdirSync(host, { mode: 0o755 });
      fs.lchownSync(host, owner.uid, owner.gid);
      fs.chmodSync(host, 0o755);
    } else if (st.isSymbolicLink()) {
      if (links >= 40) throw new InvalidArgument(`cannot copy to ${target}: too many levels of symbolic links`);
      const link = fs.readlinkSync(host);
      const logicalParent = `/${path.relative(root, parentHost)}`;
      result = ensureDir(path.posix.resolve(logicalParent, link), links + 1);
    } else if (!st.isDirectory()) {
      throw new InvalidArgument(`cannot copy to ${target}: it is not a directory in the image`);
    }
    made.set(target, result);
    return result;
  };
  for (const dir of plan.directories) ensureDir(dir);

  const fileOrDirectory = new Map(plan.fileOrDirectory.map((f) => [f.entryIndex, f.name]));
  const hostTargets = new Map<string, string>();
  const deferredDirs: Array<{ host: string; mtime: number }> = [];
  // Small files are made whole in batches on the thread pool (writeNewFiles): one job for
  // up to 256 files instead of six calls each from the event loop.
  const batch: NewFile[] = [];
  const batched = new Set<string>();
  const flush = async () => {
    if (batch.length === 0) return;
    await writeNewFiles(batch.splice(0));
    batched.clear();
  };
  let sliceStart = performance.now();
  for (let i = 0; i < plan.entries.length; i++) {
    if (performance.now() - sliceStart > yieldEveryMs) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
    const entry = plan.entries[i]!;
    let target = entry.target;
    const name = fileOrDirectory.get(i);
    // A single file to a destination without `/`: under it when the image has a directory there.
    if (name !== undefined && isDirectoryIn(root, target)) target = path.posix.join(target, name);
    const parent = ensureDir(path.posix.dirname(target));
    const host = path.join(parent, path.posix.basename(target));
    // What is written next may need what is still in the batch (a hardlink to it, the same name again).
    if (batched.has(host) || entry.kind === 'hardlink') await flush();
    hostTargets.set(target, host);
    if (entry.kind === 'file' && entry.size <= batchedFileMax && clearForFile(host, target) && !hasCopiedXattr(entry.source)) {
      const mode = options.chmod ? options.chmod(entry.mode, false) : entry.mode;
      const mtime = new Date(entry.mtimeMs);
      batch.push({
        path: host,
        chunks: [fs.readFileSync(entry.source)],
        mode,
        uid: owner.uid,
        gid: owner.gid,
        chown: true,
        atime: mtime,
        mtime,
      });
      batched.add(host);
      if (batch.length >= writeNewFilesMax) await flush();
      continue;
    }
    writeEntry(entry, host, target, hostTargets, owner, options.chmod);
    if (entry.kind === 'directory') {
      made.set(target, host);
      deferredDirs.push({ host, mtime: entry.mtimeMs });
    }
  }
  await flush();
  for (const dir of deferredDirs.reverse()) fs.utimesSync(dir.host, dir.mtime / 1000, dir.mtime / 1000);
}

/** Files up to this size go through the batches; larger ones are copied (reflinked where the filesystem can). */
const batchedFileMax = 256 << 10;

function hasCopiedXattr(file: string): boolean {
  return copiedXattrs.some((name) => getXattr(file, name) !== null);
}

/** Make room for a file at `host`: true when nothing is there (any non-directory is removed); a directory there is an error. */
function clearForFile(host: string, target: string): boolean {
  let existing: fs.Stats;
  try {
    existing = fs.lstatSync(host);
  } catch {
    return true;
  }
  if (existing.isDirectory()) throw new InvalidArgument(`cannot overwrite directory ${target} with a non-directory`);
  fs.unlinkSync(host);
  return true;
}

function isDirectoryIn(root: string, target: string): boolean {
  try {
    return fs.statSync(resolveInRoot(root, target)).isDirectory();
  } catch {
    return false;
  }
}

function writeEntry(
  entry: CopyEntry,
  host: string,
  target: string,
  hostTargets: Map<string, string>,
  owner: Owner,
  chmod: ModeChange | undefined,
): void {
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(host);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined) {
    if (existing.isDirectory()) {
      if (entry.kind !== 'directory') throw new InvalidArgument(`cannot overwrite directory ${target} with a non-directory`);
    } else {
      fs.unlinkSync(host);
    }
  }
  const mode = chmod ? chmod(entry.mode, entry.kind === 'directory') : entry.mode;
  const seconds = entry.mtimeMs / 1000;
  switch (entry.kind) {
    case 'directory':
      if (existing === undefined) fs.mkdirSync(host, { mode: 0o700 });
      fs.lchownSync(host, owner.uid, owner.gid);
      fs.chmodSync(host, mode);
      return;
    case 'file': {
      fs.copyFileSync(entry.source, host, fs.constants.COPYFILE_FICLONE);
      fs.lchownSync(host, owner.uid, owner.gid);
      // chown clears setuid/setgid: the mode is set after it.
      fs.chmodSync(host, mode);
      for (const name of copiedXattrs) {
        const value = getXattr(entry.source, name);
        if (value !== null) setXattr(host, name, Buffer.from(value, 'latin1'));
      }
      fs.utimesSync(host, seconds, seconds);
      return;
    }
    case 'symlink':
      fs.symlinkSync(entry.link!, host);
      fs.lchownSync(host, owner.uid, owner.gid);
      fs.lutimesSync(host, seconds, seconds);
      return;
    case 'fifo':
    case 'char-device':
    case 'block-device': {
      // Node has no mknod(2); coreutils' mknod, as @berth/image's layer unpacking uses.
      const type =
        entry.kind === 'fifo' ? ['p'] : [entry.kind === 'char-device' ? 'c' : 'b', String(entry.rdev!.major), String(entry.rdev!.minor)];
      execFileSync('mknod', [host, ...type], { stdio: ['ignore', 'ignore', 'pipe'] });
      fs.lchownSync(host, owner.uid, owner.gid);
      fs.chmodSync(host, mode);
      fs.utimesSync(host, seconds, seconds);
      return;
    }
    case 'hardlink': {
      const first = hostTargets.get(entry.link!);
      if (first === undefined) throw new InvalidArgument(`hardlink ${target}: ${entry.link} was not written`);
      fs.linkSync(first, host);
      return;
    }
  }
}
