import { binding } from './binding.js';

/**
 * openat2(2) flags that confine a lookup (`how.resolve`): `IN_ROOT` resolves as if the
 * directory were `/` (symlinks and `..` stay in it), `BENEATH` refuses (EXDEV) any step
 * out of it (an absolute symlink, `..` above it), `NO_SYMLINKS` refuses any symlink
 * (ELOOP), `NO_MAGICLINKS` refuses /proc's fd links, `NO_XDEV` refuses crossing a mount.
 */
export const RESOLVE: Readonly<{ NO_XDEV: number; NO_MAGICLINKS: number; NO_SYMLINKS: number; BENEATH: number; IN_ROOT: number }> =
  binding.RESOLVE as never;

/** The *at(2) constants: `FDCWD`, `SYMLINK_NOFOLLOW`, `EMPTY_PATH`, `REMOVEDIR`. */
export const AT: Readonly<{ FDCWD: number; SYMLINK_NOFOLLOW: number; EMPTY_PATH: number; REMOVEDIR: number }> = binding.AT as never;

/** open(2)'s O_PATH: a descriptor that names a file without opening it (no read, no side effect of a device's open). */
export const O_PATH: number = binding.O_PATH;

/** What fstatat(2) says of a file: the fields a copy needs. `ino` and `dev` are exact (bigint). */
export interface StatAt {
  dev: bigint;
  ino: bigint;
  /** Type and permission bits (st_mode). */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdevMajor: number;
  rdevMinor: number;
  size: number;
  atimeMs: number;
  mtimeMs: number;
}

/*
 * Operations on one name inside a directory given by a descriptor (the *at(2) system
 * calls Node has no binding for). Whoever holds a descriptor resolved safely (openAt with
 * RESOLVE_IN_ROOT or RESOLVE_BENEATH) can then read, create and change what is in it
 * without a path being looked up again, so a container that swaps a directory for a
 * symlink meanwhile cannot send the operation elsewhere. Descriptors are close-on-exec;
 * the caller closes them (fs.closeSync). Errors are shaped like Node's fs errors (`code`,
 * `errno`, `syscall`, `path`: the name).
 */

/** openat2(2) of `p` relative to `dirfd` (AT.FDCWD: the working directory) with `resolve` (RESOLVE bits); returns the fd. */
export function openAt(dirfd: number, p: string, flags: number, options: { mode?: number; resolve?: number } = {}): number {
  return binding.openAt(dirfd, p, flags, options.mode ?? 0o666, options.resolve ?? 0);
}

/** fstatat(2); `flags` AT.SYMLINK_NOFOLLOW (a link as itself), AT.EMPTY_PATH (`name` '' is dirfd itself). */
export function statAt(dirfd: number, name: string, flags: number): StatAt {
  return binding.statAt(dirfd, name, flags);
}

/** readlinkat(2): the target of the symlink `name` in `dirfd` ('' with an O_PATH descriptor of the link itself). */
export function readlinkAt(dirfd: number, name: string): string {
  return binding.readlinkAt(dirfd, name);
}

/** The names in the open directory `fd` (opened for reading, not O_PATH), without `.` and `..`, in the kernel's order. */
export function readDir(fd: number): string[] {
  return binding.readDir(fd);
}

/** mkdirat(2). */
export function mkdirAt(dirfd: number, name: string, mode: number): void {
  binding.mkdirAt(dirfd, name, mode);
}

/** symlinkat(2): `name` in `dirfd` becomes a symlink to `target` (text, never looked up here). */
export function symlinkAt(dirfd: number, name: string, target: string): void {
  binding.symlinkAt(dirfd, name, target);
}

/** linkat(2): `name` in `dirfd` becomes a hard link to `targetName` in `targetDirfd` (a symlink is linked as itself). */
export function linkAt(dirfd: number, name: string, targetDirfd: number, targetName: string): void {
  binding.linkAt(dirfd, name, targetDirfd, targetName);
}

/** mknodat(2): `mode` holds the type (fs.constants.S_IFCHR, S_IFBLK, S_IFIFO) and the permission bits. */
export function mknodAt(dirfd: number, name: string, mode: number, major: number, minor: number): void {
  binding.mknodAt(dirfd, name, mode, major, minor);
}

/** unlinkat(2); `flags` AT.REMOVEDIR for an (empty) directory. */
export function unlinkAt(dirfd: number, name: string, flags = 0): void {
  binding.unlinkAt(dirfd, name, flags);
}

/** fchownat(2); AT.SYMLINK_NOFOLLOW changes a symlink itself. */
export function chownAt(dirfd: number, name: string, uid: number, gid: number, flags: number): void {
  binding.chownAt(dirfd, name, uid, gid, flags);
}

/** fchmodat2(2) (Linux 6.6): with AT.SYMLINK_NOFOLLOW a symlink is refused (EOPNOTSUPP) rather than followed. */
export function chmodAt(dirfd: number, name: string, mode: number, flags: number): void {
  binding.chmodAt(dirfd, name, mode, flags);
}

/** utimensat(2), times as Dates; AT.SYMLINK_NOFOLLOW sets a symlink's own times. */
export function utimesAt(dirfd: number, name: string, atime: Date, mtime: Date, flags: number): void {
  binding.utimesAt(dirfd, name, atime.getTime() / 1000, mtime.getTime() / 1000, flags);
}

/**
 * utimensat(2) with whole seconds and nanoseconds: no precision lost to a double, and
 * `UTIME.NOW` / `UTIME.OMIT` as the nanoseconds set the current time or leave one alone.
 */
export function utimensAt(
  dirfd: number,
  name: string,
  atime: { sec: number; nsec: number },
  mtime: { sec: number; nsec: number },
  flags: number,
): void {
  binding.utimensAt(dirfd, name, atime.sec, atime.nsec, mtime.sec, mtime.nsec, flags);
}

/** utimensat(2)'s special nanosecond values. */
export const UTIME = Object.freeze({ NOW: (1 << 30) - 1, OMIT: (1 << 30) - 2 });
