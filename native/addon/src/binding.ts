import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The compiled addon's surface (csrc/berth_native.c). Internal: index.ts re-exports the public part. */
export interface NativeBinding {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount(target: string, flags: number): void;
  openInRoot(root: string, p: string, flags: number, mode: number): number;
  lgetxattr(file: string, name: string): string | null;
  lsetxattr(file: string, name: string, value: Buffer): void;
  fsetxattr(fd: number, name: string, value: Buffer): void;
  llistxattr(file: string): string[];
  lremovexattr(file: string, name: string): void;
  utimensAt(dirfd: number, name: string, atimeSec: number, atimeNsec: number, mtimeSec: number, mtimeNsec: number, flags: number): void;
  openAt(dirfd: number, p: string, flags: number, mode: number, resolve: number): number;
  statAt(dirfd: number, name: string, flags: number): import('./at-calls.js').StatAt;
  readlinkAt(dirfd: number, name: string): string;
  readDir(fd: number): string[];
  mkdirAt(dirfd: number, name: string, mode: number): void;
  symlinkAt(dirfd: number, name: string, target: string): void;
  linkAt(dirfd: number, name: string, targetDirfd: number, targetName: string): void;
  mknodAt(dirfd: number, name: string, mode: number, major: number, minor: number): void;
  unlinkAt(dirfd: number, name: string, flags: number): void;
  chownAt(dirfd: number, name: string, uid: number, gid: number, flags: number): void;
  chmodAt(dirfd: number, name: string, mode: number, flags: number): void;
  utimesAt(dirfd: number, name: string, atime: number, mtime: number, flags: number): void;
  RESOLVE: Readonly<Record<string, number>>;
  AT: Readonly<Record<string, number>>;
  trimMalloc(): boolean;
  socketInNetns(netnsPath: string, tcp: boolean, address: string, port: number): number;
  writeNewFiles(files: readonly import('./write-new-file.js').NewFileSpec[], callback?: (err: Error | null) => void): void;
  gzipMember(input: Buffer, level: number, callback: (err: Error | null, output?: Buffer) => void): void;
  gunzipMember(input: Buffer, size: number, callback: (err: Error | null, output?: Buffer) => void): void;
  netlinkTransact(netnsFd: number, requests: readonly Buffer[]): Buffer[];
  netlinkTransact(netnsFd: number, requests: readonly Buffer[], callback: (err: Error | null, replies?: Buffer[]) => void): void;
  copyTree(
    srcDirFd: number,
    dstDirFd: number,
    threads: number,
    callback: (err: Error | null, done?: import('./copy-tree.js').CopiedTree) => void,
  ): void;
  spawnDetached(file: string, args: string[], readyFd: boolean): { pid: number; status: number; readyFd?: number };
  spawnDetachedAsync(
    file: string,
    args: string[],
    readyFd: boolean,
    done: (err: Error | null, out?: { pid: number; status: number; readyFd?: number }) => void,
    onExit: (status: number) => void,
  ): void;
  MS: Readonly<Record<string, number>>;
  MNT_DETACH: number;
  MNT_FORCE: number;
  O_PATH: number;
}

const addonFile = path.join('build', 'Release', 'berth_native.node');

/**
 * Find the addon relative to the package root, which is one level up from src/ (tsx)
 * and two from dist/src/ (tsc output). BERTH_NATIVE_ADDON names it explicitly for a
 * bundled daemon whose __dirname is elsewhere.
 */
function locate(): string {
  const explicit = process.env.BERTH_NATIVE_ADDON;
  if (explicit) return explicit;
  const candidates = [path.resolve(__dirname, '..', addonFile), path.resolve(__dirname, '..', '..', addonFile)];
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new Error(`@berth/native: addon not built (looked for ${candidates.join(', ')}); run \`npm run build -w @berth/native\``);
  }
  return found;
}

export const binding: NativeBinding = require(locate()) as NativeBinding;
