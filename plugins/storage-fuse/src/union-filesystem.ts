import {
  type BigIntStats,
  chmodSync,
  closeSync,
  constants,
  fchownSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  readSync,
  renameSync,
  rmSync,
  statfsSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { constants as osConstants } from 'node:os';
import * as path from 'node:path';
import { AT, getXattr, listXattrs, mknodAt, removeXattr, setXattr, utimensAt } from '@berth/native';
import { CopyUp, splitDev } from './copy-up.js';
import type { FuseCallback, FuseOperations, FuseStat } from './fuse-binding.js';
import { OPAQUE_XATTR, OVERLAY_XATTR_PREFIX, UnionLayers } from './union-layers.js';

/** An error with the errno to answer. */
function fail(code: keyof typeof osConstants.errno, message: string): never {
  throw Object.assign(new Error(message), { code });
}

/** The negative errno fuse-native answers for `err` (EIO for anything without a code). */
export function errnoOf(err: unknown): number {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const errno = code ? (osConstants.errno as Record<string, number>)[code] : undefined;
  return errno ? -errno : -osConstants.errno.EIO;
}

const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;
const S_ISGID = 0o2000;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
/** (u32)-1: "leave unchanged" for chown. */
const UNCHANGED = 0xffffffff;

/** Who asks: the caller's uid and gid (the patched fuse-native's `caller()`). */
export type CallerIdentity = () => { uid: number; gid: number };

/**
 * The union filesystem's operations for fuse-native: a merged view of read-only lower
 * directories under one upper directory, written in overlayfs's on-disk format
 * (whiteouts are 0:0 character devices, opaque directories carry
 * `trusted.overlay.opaque=y`), so the upper directory is the layer's diff exactly as
 * kernel overlayfs would have left it.
 *
 * Every handler is synchronous and answers before returning: the process serves only
 * this filesystem (it never reads its own mount, which would deadlock), and a thrown
 * error becomes the errno it carries (EIO otherwise), never an exception that would kill
 * the process. Nodes a caller creates are owned by the caller's uid and gid (the gid of
 * a set-gid parent directory instead), as on overlayfs.
 */
export class UnionFilesystem {
  readonly layers: UnionLayers;
  private readonly copyUp: CopyUp;

  constructor(
    upper: string,
    lowers: readonly string[],
    work: string,
    private readonly caller: CallerIdentity,
    private readonly readOnly = false,
    private readonly volatile = false,
    private readonly onError: (op: string, p: string, err: unknown) => void = () => {},
    /**
     * Told that the attributes of a path (all paths, without one) may no longer be the
     * ones a getattr marked `cacheable`: the helper drops them from the binding's cache.
     */
    private readonly forget: (p?: string) => void = () => {},
  ) {
    this.layers = new UnionLayers(upper, lowers);
    this.copyUp = new CopyUp(this.layers, work, (p) => this.changed(p));
  }

  /** `p` and its directory changed: drop what the binding keeps of their attributes. */
  private changed(p: string): void {
    this.forget(p);
    if (p !== '/') this.forget(path.posix.dirname(p));
  }

  /** The operations object fuse-native takes. */
  operations(): FuseOperations {
    const answer = <T>(op: string, p: string, cb: FuseCallback<T>, work: () => T): void => {
      let result: T;
      try {
        result = work();
      } catch (err) {
        const code = errnoOf(err);
        if (code === -osConstants.errno.EIO) this.onError(op, p, err);
        cb(code);
        return;
      }
      cb(0, result);
    };
    const writable = () => {
      if (this.readOnly) fail('EROFS', 'read-only view');
    };
    /** `answer` for a call that changes `p` and its directory: their kept attributes are forgotten after it. */
    const change = <T>(op: string, p: string, cb: FuseCallback<T>, work: () => T): void =>
      answer(op, p, cb, () => {
        try {
          return work();
        } finally {
          this.changed(p);
        }
      });
    return {
      getattr: (p, cb) =>
        answer('getattr', p, cb, () => {
          const found = this.found(p);
          // A read-only layer's entry never changes until a copy-up, and a directory only
          // through the calls below, which forget it (and its parent) in `changed`.
          const immutable = this.readOnly || found.layer > 0;
          const stat: FuseStat = { ...toFuseStat(found.stat), cacheable: immutable || found.stat.isDirectory() };
          // Read-only opens of such a file are served by the binding's C from now on.
          if (immutable && found.stat.isFile()) stat.real = this.layers.real(found.layer, p);
          return stat;
        }),
      readdir: (p, cb) =>
        answer('readdir', p, cb, () => {
          const names = this.layers.list(p);
          if (!names) fail(this.layers.locate(p) ? 'ENOTDIR' : 'ENOENT', p);
          return ['.', '..', ...names];
        }),
      readlink: (p, cb) => answer('readlink', p, cb, () => readlinkSync(this.realOf(p))),
      open: (p, flags, cb) =>
        answer('open', p, cb, () => {
          const accessMode = flags & 3;
          const truncate = (flags & constants.O_TRUNC) !== 0;
          const found = this.found(p);
          if ((accessMode !== constants.O_RDONLY || truncate) && found.layer !== 0) {
            writable();
            this.copyUp.file(p, truncate ? 0 : undefined);
            return openSync(this.layers.upper(p), flags & ~(constants.O_CREAT | constants.O_EXCL));
          }
          return openSync(this.layers.real(found.layer, p), flags & ~(constants.O_CREAT | constants.O_EXCL));
        }),
      create: (p, mode, cb) =>
        change('create', p, cb, () => {
          writable();
          let fd = -1;
          this.makeNode(p, false, (at) => {
            fd = openSync(at, constants.O_CREAT | constants.O_EXCL | constants.O_RDWR, mode & 0o7777);
            const { uid, gid } = this.owner(p);
            fchownSync(fd, uid, gid);
          });
          return fd;
        }),
      // fuse-native takes a read's or write's byte count as the callback's first argument.
      read: (p, fd, buf, len, pos, cb) =>
        answer(
          'read',
          p,
          (code, n) => cb(code < 0 ? code : (n ?? 0)),
          () => readSync(fd, buf, 0, len, pos),
        ),
      write: (p, fd, buf, len, pos, cb) =>
        answer(
          'write',
          p,
          (code, n) => cb(code < 0 ? code : (n ?? 0)),
          () => writeSync(fd, buf, 0, len, pos),
        ),
      release: (p, fd, cb) => answer('release', p, cb, () => closeSync(fd)),
      fsync: (p, datasync, fd, cb) =>
        answer('fsync', p, cb, () => {
          if (this.volatile) return;
          if (datasync) fdatasyncSync(fd);
          else fsyncSync(fd);
        }),
      truncate: (p, size, cb) =>
        change('truncate', p, cb, () => {
          writable();
          this.copyUp.file(p, size === 0 ? 0 : undefined);
          truncateSync(this.layers.upper(p), size);
        }),
      ftruncate: (p, fd, size, cb) => answer('ftruncate', p, cb, () => ftruncateSync(fd, size)),
      mkdir: (p, mode, cb) =>
        change('mkdir', p, cb, () => {
          writable();
          this.makeNode(p, true, (at) => {
            mkdirSync(at, { mode: mode & 0o7777 });
            const { uid, gid, setgid } = this.owner(p);
            lchownSync(at, uid, gid);
            // mkdir(2) drops S_ISGID from the mode; a set-gid parent passes it on.
            if (setgid || (mode & 0o7000) !== 0) chmodSync(at, (mode & 0o7777) | (setgid ? S_ISGID : 0));
          });
          this.layers.forget(p);
        }),
      mknod: (p, mode, dev, cb) =>
        change('mknod', p, cb, () => {
          writable();
          // A 0:0 character device would read as a whiteout: the node would vanish.
          if ((mode & S_IFMT) === S_IFCHR && dev === 0) fail('EPERM', 'a 0:0 character device is a whiteout');
          const [major, minor] = splitDev(dev);
          this.makeNode(p, false, (at) => {
            mknodAt(AT.FDCWD, at, mode, major, minor);
            const { uid, gid } = this.owner(p);
            lchownSync(at, uid, gid);
          });
        }),
      symlink: (target, p, cb) =>
        change('symlink', p, cb, () => {
          writable();
          this.makeNode(p, false, (at) => {
            symlinkSync(target, at);
            const { uid, gid } = this.owner(p);
            lchownSync(at, uid, gid);
          });
        }),
      link: (src, dest, cb) =>
        change('link', dest, cb, () => {
          writable();
          const found = this.found(src);
          if (found.stat.isDirectory()) fail('EPERM', 'hard link to a directory');
          this.copyUp.file(src);
          this.makeNode(dest, false, (at) => linkSync(this.layers.upper(src), at));
        }),
      unlink: (p, cb) =>
        change('unlink', p, cb, () => {
          writable();
          const found = this.found(p);
          if (found.stat.isDirectory()) fail('EISDIR', p);
          this.remove(p, found.layer, false);
        }),
      rmdir: (p, cb) =>
        change('rmdir', p, cb, () => {
          writable();
          const found = this.found(p);
          if (!found.stat.isDirectory()) fail('ENOTDIR', p);
          if ((this.layers.list(p) ?? []).length > 0) fail('ENOTEMPTY', p);
          this.remove(p, found.layer, true);
          this.layers.forget(p);
        }),
      rename: (src, dest, cb) =>
        answer('rename', src, cb, () => {
          writable();
          try {
            this.rename(src, dest);
          } finally {
            // Every path below either name may have moved.
            this.forget();
          }
        }),
      chmod: (p, mode, cb) =>
        change('chmod', p, cb, () => {
          writable();
          this.copyUpAny(p);
          chmodSync(this.layers.upper(p), mode & 0o7777);
        }),
      chown: (p, uid, gid, cb) =>
        change('chown', p, cb, () => {
          writable();
          this.copyUpAny(p);
          lchownSync(this.layers.upper(p), uid === UNCHANGED ? -1 : uid, gid === UNCHANGED ? -1 : gid);
        }),
      utimens: (p, atimeMs, mtimeMs, cb) =>
        change('utimens', p, cb, () => {
          writable();
          this.copyUpAny(p);
          const ts = (ms: number) => ({ sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 });
          utimensAt(AT.FDCWD, this.layers.upper(p), ts(atimeMs), ts(mtimeMs), AT.SYMLINK_NOFOLLOW);
        }),
      utimensPrecise: (p, atimeSec, atimeNsec, mtimeSec, mtimeNsec, cb) =>
        change('utimens', p, cb, () => {
          writable();
          this.copyUpAny(p);
          utimensAt(
            AT.FDCWD,
            this.layers.upper(p),
            { sec: atimeSec, nsec: atimeNsec },
            { sec: mtimeSec, nsec: mtimeNsec },
            AT.SYMLINK_NOFOLLOW,
          );
        }),
      statfs: (p, cb) =>
        answer('statfs', p, cb, () => {
          const s = statfsSync(this.layers.roots[0]!);
          return {
            bsize: s.bsize,
            frsize: s.bsize,
            blocks: s.blocks,
            bfree: s.bfree,
            bavail: s.bavail,
            files: s.files,
            ffree: s.ffree,
            favail: s.ffree,
            namemax: 255,
          };
        }),
      setxattr: (p, name, value, _position, flags, cb) =>
        change('setxattr', p, cb, () => {
          writable();
          if (name.startsWith(OVERLAY_XATTR_PREFIX)) fail('EPERM', `${name} is the union filesystem's own`);
          this.found(p);
          const present = getXattr(this.realOf(p), name) !== null;
          if (flags & XATTR_CREATE && present) fail('EEXIST', name);
          if (flags & XATTR_REPLACE && !present) fail('ENODATA', name);
          this.copyUpAny(p);
          setXattr(this.layers.upper(p), name, Buffer.from(value));
        }),
      getxattr: (p, name, _position, cb) =>
        answer('getxattr', p, cb, () => {
          if (name.startsWith(OVERLAY_XATTR_PREFIX)) return null;
          const value = getXattr(this.realOf(p), name);
          return value === null ? null : Buffer.from(value, 'latin1');
        }),
      listxattr: (p, cb) => answer('listxattr', p, cb, () => listXattrs(this.realOf(p)).filter((n) => !n.startsWith(OVERLAY_XATTR_PREFIX))),
      removexattr: (p, name, cb) =>
        change('removexattr', p, cb, () => {
          writable();
          if (name.startsWith(OVERLAY_XATTR_PREFIX)) fail('EPERM', `${name} is the union filesystem's own`);
          if (getXattr(this.realOf(p), name) === null) fail('ENODATA', name);
          this.copyUpAny(p);
          removeXattr(this.layers.upper(p), name);
        }),
    };
  }

  private found(p: string) {
    const found = this.layers.locate(p);
    if (!found) fail('ENOENT', p);
    return found;
  }

  private realOf(p: string): string {
    const found = this.found(p);
    return this.layers.real(found.layer, p);
  }

  /** Copy `p` up, whatever it is (a directory's own metadata only). */
  private copyUpAny(p: string): void {
    const found = this.found(p);
    if (found.layer === 0) return;
    if (found.stat.isDirectory()) this.copyUp.ensureDir(p);
    else this.copyUp.file(p);
  }

  /** The owner of a new node at `p`: the caller, with the parent's gid when the parent is set-gid. */
  private owner(p: string): { uid: number; gid: number; setgid: boolean } {
    const { uid, gid } = this.caller();
    const parent = lstatSync(this.layers.upper(path.posix.dirname(p)));
    const setgid = (parent.mode & S_ISGID) !== 0;
    return { uid, gid: setgid ? parent.gid : gid, setgid };
  }

  /**
   * Make a new node at `p` with `make(at)`: EEXIST when the merged view has something
   * there. Over a whiteout the node is made in the work directory and renamed into
   * place (a directory replacing a whiteout is opaque: what the lower layers had there
   * stays deleted).
   */
  private makeNode(p: string, directory: boolean, make: (at: string) => void): void {
    if (this.layers.locate(p)) fail('EEXIST', p);
    this.copyUp.ensureDir(path.posix.dirname(p));
    const upper = this.layers.upper(p);
    const existing = lstatSync(upper, { throwIfNoEntry: false });
    if (!existing) {
      make(upper);
      return;
    }
    // Only a whiteout can be there (anything else would be visible).
    const tmp = this.copyUp.temporary();
    try {
      make(tmp);
      if (directory) {
        setXattr(tmp, OPAQUE_XATTR, Buffer.from('y'));
        unlinkSync(upper);
      }
      renameSync(tmp, upper);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** Delete `p` (found in `layer`) from the merged view: from the upper, then a whiteout if a lower still shows it. */
  private remove(p: string, layer: number, directory: boolean): void {
    const needsWhiteout = this.layers.inLower(p);
    const upper = this.layers.upper(p);
    if (layer === 0) {
      if (directory) {
        // The upper directory holds only whiteouts (it is empty in the merged view).
        const tmp = this.copyUp.temporary();
        renameSync(upper, tmp);
        if (needsWhiteout) this.whiteout(p);
        rmSync(tmp, { recursive: true, force: true });
        return;
      }
      if (needsWhiteout) {
        // Replaced in one rename: never a moment where the lower file shows through.
        const tmp = this.copyUp.temporary();
        mknodAt(AT.FDCWD, tmp, S_IFCHR, 0, 0);
        renameSync(tmp, upper);
      } else {
        unlinkSync(upper);
      }
      return;
    }
    this.copyUp.ensureDir(path.posix.dirname(p));
    this.whiteout(p);
  }

  private whiteout(p: string): void {
    mknodAt(AT.FDCWD, this.layers.upper(p), S_IFCHR, 0, 0);
  }

  private rename(src: string, dest: string): void {
    const from = this.found(src);
    if (src === dest) return;
    if (`${dest}/`.startsWith(`${src}/`)) fail('EINVAL', 'cannot move a directory into itself');
    const to = this.layers.locate(dest);
    const isDir = from.stat.isDirectory();
    if (to) {
      if (isDir && !to.stat.isDirectory()) fail('ENOTDIR', dest);
      if (!isDir && to.stat.isDirectory()) fail('EISDIR', dest);
      if (to.stat.isDirectory() && (this.layers.list(dest) ?? []).length > 0) fail('ENOTEMPTY', dest);
    }
    this.copyUp.ensureDir(path.posix.dirname(dest));
    const srcInLower = this.layers.inLower(src);
    const destInLower = this.layers.inLower(dest);
    const destUpper = this.layers.upper(dest);
    if (isDir) {
      const layers = this.layers.dirLayers(src) ?? [];
      const pureUpper = layers.length === 1 && layers[0] === 0;
      const moving = pureUpper ? this.layers.upper(src) : this.copyUp.tree(src);
      // An upper directory at dest is empty in the merged view but may hold whiteouts.
      const old = lstatSync(destUpper, { throwIfNoEntry: false });
      let discarded: string | undefined;
      if (old) {
        discarded = this.copyUp.temporary();
        renameSync(destUpper, discarded);
      }
      renameSync(moving, destUpper);
      if (destInLower && pureUpper) setXattr(destUpper, OPAQUE_XATTR, Buffer.from('y'));
      if (pureUpper) {
        if (srcInLower) this.whiteout(src);
      } else if (lstatSync(this.layers.upper(src), { throwIfNoEntry: false })) {
        const stale = this.copyUp.temporary();
        renameSync(this.layers.upper(src), stale);
        if (srcInLower) this.whiteout(src);
        rmSync(stale, { recursive: true, force: true });
      } else if (srcInLower) {
        this.copyUp.ensureDir(path.posix.dirname(src));
        this.whiteout(src);
      }
      if (discarded) rmSync(discarded, { recursive: true, force: true });
      this.layers.forget(src);
      this.layers.forget(dest);
      return;
    }
    this.copyUp.file(src);
    renameSync(this.layers.upper(src), destUpper);
    if (srcInLower) this.whiteout(src);
  }
}

/** fuse-native's stat for a bigint lstat: times split into milliseconds and the nanoseconds below. */
export function toFuseStat(st: BigIntStats): FuseStat {
  return {
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: Number(st.size),
    nlink: Number(st.nlink),
    ino: Number(st.ino & 0xffffffffn),
    inoHigh: Number(st.ino >> 32n),
    rdev: Number(st.rdev),
    blksize: Number(st.blksize),
    blocks: Number(st.blocks),
    atime: Number(st.atimeNs / 1_000_000n),
    mtime: Number(st.mtimeNs / 1_000_000n),
    ctime: Number(st.ctimeNs / 1_000_000n),
    atimeSubMsNs: Number(st.atimeNs % 1_000_000n),
    mtimeSubMsNs: Number(st.mtimeNs % 1_000_000n),
    ctimeSubMsNs: Number(st.ctimeNs % 1_000_000n),
  };
}
