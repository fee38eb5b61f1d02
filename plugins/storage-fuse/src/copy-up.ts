import { execFileSync } from 'node:child_process';
import {
  type BigIntStats,
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import * as path from 'node:path';
import { AT, getXattr, listXattrs, mknodAt, setXattr, utimensAt } from '@berth/native';
import { OPAQUE_XATTR, OVERLAY_XATTR_PREFIX, type UnionLayers } from './union-layers.js';

/** The major and minor numbers of a dev_t as Linux encodes it. */
export function splitDev(dev: number | bigint): [number, number] {
  const d = BigInt(dev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return [major, minor];
}

/** Seconds and nanoseconds of a bigint nanosecond time. */
function timespec(ns: bigint): { sec: number; nsec: number } {
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}

/**
 * Copy-up, as overlayfs does it: before anything of a lower layer changes, the
 * directories above it and then the thing itself are copied into the upper directory
 * with their owner, mode, xattrs and times (to the nanosecond). Each copy is made in
 * the work directory and renamed into place, so a crash leaves either no copy or a
 * whole one (and the work directory, emptied at every mount, holds the rest).
 */
export class CopyUp {
  private counter = 0;

  constructor(
    private readonly layers: UnionLayers,
    /** A directory on the upper's filesystem, emptied at mount: copies are made there. */
    private readonly work: string,
    /** Told each path whose attributes a copy-up changed (they were a lower layer's, kept as immutable). */
    private readonly changed: (p: string) => void = () => {},
  ) {}

  /** A fresh name in the work directory. */
  temporary(): string {
    return path.join(this.work, `#${process.pid}-${++this.counter}`);
  }

  /** Make sure the merged directory `p` exists in the upper directory (copying it and its ancestors up). */
  ensureDir(p: string): void {
    if (p === '/') return;
    const upper = this.layers.upper(p);
    if (lstatSync(upper, { throwIfNoEntry: false })?.isDirectory()) return;
    this.ensureDir(path.posix.dirname(p));
    const found = this.layers.locate(p);
    if (!found?.stat.isDirectory()) throw Object.assign(new Error(`not a directory: ${p}`), { code: 'ENOTDIR' });
    const tmp = this.temporary();
    mkdirSync(tmp, { mode: 0o700 });
    try {
      this.copyMetadata(this.layers.real(found.layer, p), found.stat, tmp);
      renameSync(tmp, upper);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    this.layers.forgetOne(p);
    this.changed(p);
  }

  /**
   * Copy the non-directory `p` up (its parents first). `truncateTo` 0 makes the copy
   * empty without reading the lower file (an O_TRUNC open or a truncate to 0).
   */
  file(p: string, truncateTo?: number): void {
    const found = this.layers.locate(p);
    if (!found) throw Object.assign(new Error(`no such file: ${p}`), { code: 'ENOENT' });
    if (found.layer === 0) return;
    this.ensureDir(path.posix.dirname(p));
    const tmp = this.temporary();
    try {
      this.copyNode(this.layers.real(found.layer, p), found.stat, tmp, truncateTo);
      renameSync(tmp, this.layers.upper(p));
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    this.changed(p);
  }

  /**
   * A whole copy of the merged directory `p` (every layer's entries, whiteouts applied)
   * as one opaque directory in the work directory; returns its path. Renaming a
   * directory that lower layers make up is done with it (overlayfs without redirect_dir
   * refuses such a rename with EXDEV; tools then copy, which is what happens here).
   */
  tree(p: string): string {
    const tmp = this.temporary();
    try {
      this.copyTreeInto(p, tmp);
      setXattr(tmp, OPAQUE_XATTR, Buffer.from('y'));
      return tmp;
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  private copyTreeInto(p: string, dest: string): void {
    const found = this.layers.locate(p);
    if (!found) throw Object.assign(new Error(`no such directory: ${p}`), { code: 'ENOENT' });
    mkdirSync(dest, { mode: 0o700 });
    for (const name of this.layers.list(p) ?? []) {
      const child = p === '/' ? `/${name}` : `${p}/${name}`;
      const at = this.layers.locate(child);
      if (!at) continue;
      if (at.stat.isDirectory()) this.copyTreeInto(child, path.join(dest, name));
      else this.copyNode(this.layers.real(at.layer, child), at.stat, path.join(dest, name));
    }
    this.copyMetadata(this.layers.real(found.layer, p), found.stat, dest);
  }

  /** A copy of one non-directory at `dest` with its metadata. */
  private copyNode(src: string, stat: BigIntStats, dest: string, truncateTo?: number): void {
    if (stat.isFile()) {
      if (truncateTo === 0) closeSync(openSync(dest, 'wx', 0o600));
      // A sparse file (fewer blocks than its size): Node's copy would write its holes out
      // as zeros, and Node has no SEEK_DATA; GNU cp keeps the holes.
      else if (stat.blocks * 512n < stat.size)
        execFileSync('cp', ['--sparse=always', '--reflink=auto', '--', src, dest], { stdio: 'ignore' });
      else copyFileSync(src, dest, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    } else if (stat.isSymbolicLink()) {
      symlinkSync(readlinkSync(src), dest);
    } else {
      const [major, minor] = splitDev(stat.rdev);
      mknodAt(AT.FDCWD, dest, Number(stat.mode), major, minor);
    }
    this.copyMetadata(src, stat, dest);
  }

  /** Owner, mode, xattrs (overlay's own excepted), then times, from `src` onto `dest`. */
  copyMetadata(src: string, stat: BigIntStats, dest: string): void {
    const symlink = stat.isSymbolicLink();
    lchownSync(dest, Number(stat.uid), Number(stat.gid));
    // After chown, which clears set-id bits.
    if (!symlink) chmodSync(dest, Number(stat.mode) & 0o7777);
    for (const name of listXattrs(src)) {
      if (name.startsWith(OVERLAY_XATTR_PREFIX)) continue;
      const value = getXattr(src, name);
      if (value !== null) setXattr(dest, name, Buffer.from(value, 'latin1'));
    }
    utimensAt(AT.FDCWD, dest, timespec(stat.atimeNs), timespec(stat.mtimeNs), AT.SYMLINK_NOFOLLOW);
  }
}
