import { binding } from './binding.js';

/** A file for `writeNewFiles` to create: where, its bytes and what it gets. */
export interface NewFile {
  path: string;
  /** The content, in pieces (slices of a larger buffer are fine: nothing is copied). */
  chunks: readonly Buffer[];
  /** Permission bits, setuid/setgid/sticky included (set after the owner, umask not applied). */
  mode: number;
  uid: number;
  gid: number;
  /** Set the owner to `uid`:`gid` (fchown); false keeps the creator's. */
  chown: boolean;
  atime: Date;
  mtime: Date;
}

/** Most chunks the addon takes for one file; more are joined into one Buffer first. */
const maxChunks = 64;
/** Most files the addon takes in one call. */
export const writeNewFilesMax = 256;

/**
 * Create files and write each whole, in order, in one job on libuv's thread pool: for
 * each, open(O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600), write every chunk
 * (short writes continued), fchown when asked, fchmod, futimens, close. Anything already
 * at a path, a symlink included, is EEXIST: never replaced, never written through. For
 * the many small files of a layer: from Node those six calls per file are six round
 * trips through the pool, which cost more than the kernel's work.
 *
 * Resolves once every file is closed. The first failure stops the files after it and
 * rejects with an fs-shaped error naming the failed call (`syscall`) and its `path`;
 * what was created stays, for the caller to clean up. The chunks must not be changed
 * until the promise settles. Bad arguments (more than `writeNewFilesMax` files, a chunk
 * that is not a Buffer) throw a TypeError or RangeError at the call.
 */
export function writeNewFiles(files: readonly NewFile[]): Promise<void> {
  const specs = files.map(spec);
  let settle: (err: Error | null) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  // Called outside the executor so that bad arguments throw here, not as a rejection.
  binding.writeNewFiles(specs, settle);
  return done;
}

/** `writeNewFiles` on the calling thread: the same calls, the first failure thrown. */
export function writeNewFilesSync(files: readonly NewFile[]): void {
  binding.writeNewFiles(files.map(spec));
}

function spec(file: NewFile): NewFileSpec {
  return {
    path: file.path,
    chunks: file.chunks.length > maxChunks ? [Buffer.concat(file.chunks)] : file.chunks,
    mode: file.mode,
    uid: file.uid,
    gid: file.gid,
    chown: file.chown,
    atime: file.atime.getTime() / 1000,
    mtime: file.mtime.getTime() / 1000,
  };
}

/** What the addon reads: a `NewFile` with times in seconds. */
export type NewFileSpec = Omit<NewFile, 'atime' | 'mtime'> & { atime: number; mtime: number };
