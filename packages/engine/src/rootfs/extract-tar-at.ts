import { closeSync, constants, fchmodSync, futimesSync } from 'node:fs';
import { InvalidArgument, isBerthError, SystemError } from '@berth/core';
import {
  type ByteSource,
  checkSymlinkTarget,
  decompress,
  entryParts,
  readTar,
  SpaceGuard,
  type TarEntry,
  writeEntryContent,
} from '@berth/image';
import {
  AT,
  chmodAt,
  chownAt,
  linkAt,
  mkdirAt,
  mknodAt,
  O_PATH,
  openAt,
  RESOLVE,
  readDir,
  type StatAt,
  setXattrAt,
  statAt,
  symlinkAt,
  unlinkAt,
  utimesAt,
} from '@berth/native';
import { applyTarXattrs } from './tar-xattrs.js';

/** Options of `extractTarAt`. */
export interface ExtractTarOptions {
  /** Give files the tar's uid/gid (`docker cp -a`); else they belong to the daemon's user (root). */
  sameOwner: boolean;
  /** Create character and block devices (default true, as Docker's cp does as root). */
  allowDevices?: boolean;
  /**
   * Refuse, with Docker's message, an entry that would replace a directory with a
   * non-directory or a non-directory with a directory (`docker cp` always asks for it).
   */
  noOverwriteDirNonDir?: boolean;
}

/** Parent directories: a symlink that stays beneath the extraction directory is followed, one that leaves it refused (EXDEV). */
const parentLookup = RESOLVE.BENEATH | RESOLVE.NO_MAGICLINKS;
/** One name in a directory descriptor: never through a symlink, never out of it. */
const oneStep = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;
/** Directory descriptors kept between entries (tar entries come grouped by directory). */
const maxCachedDirs = 64;
/** Longest stretch of synchronous unpacking before the event loop gets a turn. */
const yieldEveryMs = 20;

/**
 * Unpack a tar (plain, gzip or zstd: `docker cp`'s PUT /archive body) into the directory
 * open as `dirfd`, which the caller resolved inside a container's root. Every step is
 * relative to a descriptor, never a path looked up again: an entry's directory is opened
 * beneath `dirfd` with openat2(RESOLVE_BENEATH) (created a component at a time with
 * mkdirat when missing), and the entry is created, written, chowned, chmoded and timed
 * through that descriptor (openat O_CREAT|O_EXCL|O_NOFOLLOW, mkdirat, symlinkat, linkat,
 * mknodat, fchownat/utimensat/fchmodat2 with AT_SYMLINK_NOFOLLOW, or the new file's own
 * descriptor). So a process in the running container that swaps a directory for a
 * symlink to the host's `/` meanwhile makes an entry fail (or land in the container's
 * tree), never write on the host.
 *
 * Docker's rules otherwise: something in the way is replaced (a directory is merged
 * with a directory; with `noOverwriteDirNonDir`, a directory and a non-directory never
 * replace each other); directory modes and times are set last. Refused with an
 * InvalidArgument naming the entry: `..` in a name, writing through a symlink that
 * leaves the extraction directory (absolute, or climbing above it), a hardlink to a
 * missing file or a directory, devices when not allowed. What was unpacked before a
 * refusal stays, as with Docker. Extended attributes of files and directories are set
 * through their descriptors (`applyTarXattrs`); those of links and devices are not.
 */
export async function extractTarAt(dirfd: number, source: ByteSource, options: ExtractTarOptions): Promise<{ entries: number }> {
  const dirs = new DirCache(dirfd);
  const deferred: Array<{ key: string; mode: number; atime: Date; mtime: Date; xattrs: ReadonlyMap<string, Buffer> }> = [];
  const allowDevices = options.allowDevices ?? true;
  // statfs through the descriptor's /proc link: the filesystem the files land on.
  const space = new SpaceGuard(`/proc/self/fd/${dirfd}`);
  let entries = 0;
  let sliceStart = performance.now();
  try {
    const { stream } = await decompress(source);
    for await (const entry of readTar(stream)) {
      entries++;
      if (performance.now() - sliceStart > yieldEveryMs) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
      dirs.settle();
      try {
        const parts = entryParts(entry.path, entry.path);
        const base = parts.pop();
        if (base === undefined) {
          // `./` or `/`: the extraction directory itself.
          if (entry.type !== 'directory') throw refuse(entry.path, 'only a directory may name the extraction directory');
          if (options.sameOwner) chownAt(dirfd, '', entry.uid, entry.gid, AT.EMPTY_PATH);
          deferred.push({ key: '', mode: entry.mode, atime: entry.atime ?? entry.mtime, mtime: entry.mtime, xattrs: entry.xattrs });
          continue;
        }
        const parent = dirs.open(parts, true, entry.path)!;
        // A file that would not fit is refused before a byte is written (a gzip bomb).
        if (entry.type === 'file') space.claim(entry.size, entry.path);
        if (entry.type === 'symlink') checkSymlinkTarget(entry.linkpath ?? '', entry.path);
        if ((entry.type === 'char-device' || entry.type === 'block-device') && !allowDevices) {
          throw refuse(entry.path, 'device nodes are not allowed here');
        }
        await extractEntry(dirs, parent, base, entry, options);
        if (entry.type === 'directory') {
          deferred.push({
            key: [...parts, base].join('/'),
            mode: entry.mode,
            atime: entry.atime ?? entry.mtime,
            mtime: entry.mtime,
            xattrs: entry.xattrs,
          });
        }
      } catch (err) {
        throw wrap(err, entry.path);
      }
    }
    // Directory modes and times last: writing children would change the times. Reopened
    // without following anything, so a directory replaced by a symlink since is left alone.
    for (let i = deferred.length - 1; i >= 0; i--) {
      const dir = deferred[i]!;
      let fd: number;
      try {
        fd = openAt(dirfd, dir.key === '' ? '.' : dir.key, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW, {
          resolve: oneStep,
        });
      } catch {
        continue;
      }
      try {
        fchmodSync(fd, dir.mode);
        futimesSync(fd, dir.atime, dir.mtime);
        applyTarXattrs(dir.xattrs, (name, value) => setXattrAt(fd, name, value));
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    dirs.close();
  }
  return { entries };
}

/** Create one entry, `base` in the directory `parent`, replacing what is in the way. */
async function extractEntry(dirs: DirCache, parent: number, base: string, entry: TarEntry, options: ExtractTarOptions): Promise<void> {
  const { sameOwner } = options;
  const nofollow = AT.SYMLINK_NOFOLLOW;
  // Create optimistically; only when something is in the way, look at it and replace it
  // (unless both are directories).
  const create = <T>(make: () => T): T | undefined => {
    try {
      return make();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const existing = statAt(parent, base, nofollow);
      const existingIsDir = isType(existing, constants.S_IFDIR);
      if (existingIsDir && entry.type === 'directory') return undefined;
      if (options.noOverwriteDirNonDir && existingIsDir !== (entry.type === 'directory')) {
        throw refuse(
          entry.path,
          existingIsDir ? 'cannot overwrite directory with non-directory' : 'cannot overwrite non-directory with directory',
        );
      }
      removeAt(parent, base, existing);
      if (isType(existing, constants.S_IFDIR) || isType(existing, constants.S_IFLNK)) dirs.invalidate();
      return make();
    }
  };
  switch (entry.type) {
    case 'directory':
      create(() => mkdirAt(parent, base, 0o700));
      if (sameOwner) chownAt(parent, base, entry.uid, entry.gid, nofollow);
      return;
    case 'file': {
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_NOCTTY;
      const fd = create(() => openAt(parent, base, flags, { mode: 0o600, resolve: oneStep }))!;
      await writeEntryContent(fd, entry, sameOwner, (file) => applyTarXattrs(entry.xattrs, (name, value) => setXattrAt(file, name, value)));
      return;
    }
    case 'symlink':
      create(() => symlinkAt(parent, base, entry.linkpath ?? ''));
      if (sameOwner) chownAt(parent, base, entry.uid, entry.gid, nofollow);
      utimesAt(parent, base, entry.atime ?? entry.mtime, entry.mtime, nofollow);
      return;
    case 'hardlink': {
      const targetParts = entryParts(entry.linkpath ?? '', entry.path);
      const targetName = targetParts.pop();
      if (targetName === undefined) throw refuse(entry.path, 'hardlink to the extraction directory');
      const targetDir = dirs.open(targetParts, false, entry.path);
      const target = targetDir === undefined ? undefined : statOrUndefined(targetDir, targetName);
      if (targetDir === undefined || !target) throw refuse(entry.path, `hardlink target ${JSON.stringify(entry.linkpath)} does not exist`);
      if (isType(target, constants.S_IFDIR)) throw refuse(entry.path, `hardlink target ${JSON.stringify(entry.linkpath)} is a directory`);
      const here = statOrUndefined(parent, base);
      if (here && here.dev === target.dev && here.ino === target.ino) return; // a hardlink to itself: already what it should be
      create(() => linkAt(parent, base, targetDir, targetName));
      return;
    }
    case 'char-device':
    case 'block-device':
    case 'fifo': {
      const type = entry.type === 'fifo' ? constants.S_IFIFO : entry.type === 'char-device' ? constants.S_IFCHR : constants.S_IFBLK;
      create(() => mknodAt(parent, base, type | (entry.mode & 0o7777), entry.devmajor, entry.devminor));
      if (sameOwner) chownAt(parent, base, entry.uid, entry.gid, nofollow);
      // mknod applied the umask: the exact mode, without following a symlink swapped in meanwhile.
      try {
        chmodAt(parent, base, entry.mode & 0o7777, nofollow);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSYS') throw err; // a kernel before 6.6: the umasked mode stays
      }
      utimesAt(parent, base, entry.atime ?? entry.mtime, entry.mtime, nofollow);
      return;
    }
  }
}

/** Remove `name` in `dirfd` and, for a directory, everything in it, descending through descriptors only. */
function removeAt(dirfd: number, name: string, st: StatAt): void {
  if (isType(st, constants.S_IFDIR)) {
    const fd = openAt(dirfd, name, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW, { resolve: oneStep });
    try {
      for (const child of readDir(fd)) {
        const childSt = statOrUndefined(fd, child);
        if (childSt) removeAt(fd, child, childSt);
      }
    } finally {
      closeSync(fd);
    }
    ignoreMissing(() => unlinkAt(dirfd, name, AT.REMOVEDIR));
    return;
  }
  ignoreMissing(() => unlinkAt(dirfd, name));
}

/**
 * The directory descriptors of an extraction, by the archive path that named them. A
 * descriptor names the directory it was opened on for as long as it is held, wherever the
 * container moves it (inside its own tree: a rename cannot leave the filesystem). Entries
 * that replace a directory or a symlink make the cache stale; it is emptied before the
 * next entry, never under one that is using a descriptor of it.
 */
class DirCache {
  private readonly fds = new Map<string, number>();
  private stale = false;

  constructor(private readonly root: number) {}

  /** Between entries: drop what a replacement made stale, and keep the cache small. */
  settle(): void {
    if (this.stale || this.fds.size > maxCachedDirs) this.close();
    this.stale = false;
  }

  invalidate(): void {
    this.stale = true;
  }

  /**
   * The directory named by `parts` (archive path components, free of `.` and `..`)
   * beneath the extraction directory, made (0755) a component at a time when missing and
   * `create`; undefined when missing and not `create`. Refusals name `entry`.
   */
  open(parts: readonly string[], create: boolean, entry: string): number | undefined {
    if (parts.length === 0) return this.root;
    const key = parts.join('/');
    const cached = this.fds.get(key);
    if (cached !== undefined) return cached;
    let fd: number;
    try {
      fd = openAt(this.root, key, O_PATH | constants.O_DIRECTORY, { resolve: parentLookup });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw refusal(code, key, entry, err);
      if (!create) return undefined;
      const above = this.open(parts.slice(0, -1), true, entry)!;
      const name = parts[parts.length - 1]!;
      let made = true;
      try {
        mkdirAt(above, name, 0o755);
      } catch (mkdirErr) {
        if ((mkdirErr as NodeJS.ErrnoException).code !== 'EEXIST') throw mkdirErr;
        made = false;
      }
      try {
        fd = openAt(above, name, O_PATH | constants.O_DIRECTORY, { resolve: made ? oneStep : parentLookup });
      } catch (openErr) {
        throw refusal((openErr as NodeJS.ErrnoException).code, key, entry, openErr);
      }
      // mkdir applied the umask; Docker makes missing parents 0755.
      if (made) setDirMode(above, name);
    }
    this.fds.set(key, fd);
    return fd;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

/** A directory this extraction made gets 0755 whatever the umask (Docker's mode for missing parents). */
function setDirMode(dirfd: number, name: string): void {
  try {
    chmodAt(dirfd, name, 0o755, AT.SYMLINK_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSYS') throw err;
  }
}

function refusal(code: string | undefined, shown: string, entry: string, err: unknown): unknown {
  if (code === 'EXDEV') {
    return refuse(
      entry,
      `"${shown}" leads out of the extraction directory (through a symlink to an absolute path or above it); refusing to write through it`,
    );
  }
  if (code === 'ELOOP') return refuse(entry, `too many levels of symbolic links at "${shown}"`);
  if (code === 'ENOTDIR') return refuse(entry, `"${shown}" is not a directory`);
  return err;
}

function isType(st: StatAt, type: number): boolean {
  return (st.mode & constants.S_IFMT) === type;
}

function statOrUndefined(dirfd: number, name: string): StatAt | undefined {
  try {
    return statAt(dirfd, name, AT.SYMLINK_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function ignoreMissing(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The InvalidArgument for a tar entry refused for safety; names the entry. */
function refuse(entry: string, problem: string): InvalidArgument {
  return new InvalidArgument(`invalid tar entry ${JSON.stringify(entry)}: ${problem}`);
}

function wrap(err: unknown, entry: string): unknown {
  if (isBerthError(err)) return err;
  const e = err as NodeJS.ErrnoException;
  return new SystemError(`unpacking tar entry ${JSON.stringify(entry)}: ${e.message ?? String(err)}`, { cause: err });
}
