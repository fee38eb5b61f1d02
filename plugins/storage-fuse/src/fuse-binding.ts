import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** A node's attributes as fuse-native's patched getattr takes them (times in ms, then the sub-millisecond ns). */
export interface FuseStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  /** The inode number's low 32 bits (fuse-native's stat array is made of u32)… */
  ino: number;
  /** …and its high 32 bits (the patch's addition). */
  inoHigh: number;
  rdev: number;
  blksize: number;
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
  atimeSubMsNs: number;
  mtimeSubMsNs: number;
  ctimeSubMsNs: number;
  /** These attributes never change (a read-only layer's entry): the patched binding answers them in C from now on. */
  cacheable?: boolean;
  /**
   * With `cacheable`, for a regular file: the file itself, which the patched binding then
   * opens read-only, reads and closes in C (a read-only layer's file never changes).
   */
  real?: string;
}

/** fuse-native's callback: a negative errno or 0, then the operation's result. */
export type FuseCallback<T = void> = (code: number, result?: T) => void;

/**
 * The operations a filesystem hands fuse-native (its JavaScript interface; paths are
 * relative to the mount, starting with `/`). `utimensPrecise` is the patched binding's
 * addition: seconds and nanoseconds as the caller gave them. Those left out answer
 * ENOSYS, which the kernel remembers (no `flush`: a close costs one request fewer).
 */
export interface FuseOperations {
  getattr(p: string, cb: FuseCallback<FuseStat>): void;
  readdir(p: string, cb: FuseCallback<string[]>): void;
  readlink(p: string, cb: FuseCallback<string>): void;
  open(p: string, flags: number, cb: FuseCallback<number>): void;
  create(p: string, mode: number, cb: FuseCallback<number>): void;
  read(p: string, fd: number, buf: Buffer, len: number, pos: number, cb: FuseCallback<number>): void;
  write(p: string, fd: number, buf: Buffer, len: number, pos: number, cb: FuseCallback<number>): void;
  release(p: string, fd: number, cb: FuseCallback): void;
  fsync(p: string, datasync: number, fd: number, cb: FuseCallback): void;
  truncate(p: string, size: number, cb: FuseCallback): void;
  ftruncate(p: string, fd: number, size: number, cb: FuseCallback): void;
  mkdir(p: string, mode: number, cb: FuseCallback): void;
  mknod(p: string, mode: number, dev: number, cb: FuseCallback): void;
  rmdir(p: string, cb: FuseCallback): void;
  unlink(p: string, cb: FuseCallback): void;
  rename(src: string, dest: string, cb: FuseCallback): void;
  link(src: string, dest: string, cb: FuseCallback): void;
  symlink(target: string, p: string, cb: FuseCallback): void;
  chmod(p: string, mode: number, cb: FuseCallback): void;
  chown(p: string, uid: number, gid: number, cb: FuseCallback): void;
  utimens(p: string, atimeMs: number, mtimeMs: number, cb: FuseCallback): void;
  utimensPrecise(p: string, atimeSec: number, atimeNsec: number, mtimeSec: number, mtimeNsec: number, cb: FuseCallback): void;
  statfs(p: string, cb: FuseCallback<Record<string, number>>): void;
  setxattr(p: string, name: string, value: Buffer, position: number, flags: number, cb: FuseCallback): void;
  getxattr(p: string, name: string, position: number, cb: FuseCallback<Buffer | null>): void;
  listxattr(p: string, cb: FuseCallback<string[]>): void;
  removexattr(p: string, name: string, cb: FuseCallback): void;
}

/** Mount options fuse-native knows, plus the patch's `extraOptions` and `onSessionEnded`. */
export interface FuseOptions {
  fsname?: string;
  subtype?: string;
  allowOther?: boolean;
  defaultPermissions?: boolean;
  autoUnmount?: boolean;
  kernelCache?: boolean;
  attrTimeout?: number;
  entryTimeout?: number;
  /** false: no per-request timeout (handlers answer synchronously). */
  timeout?: false | number;
  /** Appended to the option list as they are (big_writes, max_write=…, suid, dev, ro). */
  extraOptions?: string[];
  /** Called once when the FUSE session ends (unmounted, by us or by anyone). */
  onSessionEnded?: () => void;
}

/** A fuse-native filesystem instance. */
export interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
}

/** The patched fuse-native module (scripts/build-fuse-native.js). */
export interface FuseModule {
  new (mnt: string, ops: FuseOperations, opts: FuseOptions): FuseInstance;
  /** [uid, gid, pid, umask] of the request whose handler runs now; valid only synchronously inside a handler. */
  callerIdentity(): [number, number, number, number];
  /** Drop the attributes kept for `path` (a `cacheable` getattr result), or every one without a path. */
  forgetAttr(path?: string): void;
}

/** The package's root: one level above src/ (tsx) or two above dist/src/ (compiled). */
export function packageRoot(): string {
  for (const up of ['..', path.join('..', '..')]) {
    const candidate = path.resolve(__dirname, up);
    if (existsSync(path.join(candidate, 'patches'))) return candidate;
  }
  return path.resolve(__dirname, '..');
}

/** Where the patched build lives (made by the package's build script). */
export function patchedFuseNativeDir(): string {
  return path.join(packageRoot(), 'fuse-native');
}

/**
 * Load the patched fuse-native. Throws with the reason (and the command that builds it)
 * when it is missing or cannot load (libfuse.so.2 absent, for one).
 */
export function loadFuse(): FuseModule {
  const dir = patchedFuseNativeDir();
  if (!existsSync(path.join(dir, 'build', 'Release', 'fuse.node'))) {
    throw new Error(
      `the patched fuse-native is not built (no ${dir}/build/Release/fuse.node): run \`npm run build -w @berth/storage-fuse\``,
    );
  }
  return require(dir) as FuseModule;
}
