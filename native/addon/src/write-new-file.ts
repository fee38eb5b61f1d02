import { binding } from './binding.js';

/** What `writeNewFile` gives the file it creates. */
export interface NewFileAttributes {
  /** Permission bits, setuid/setgid/sticky included (set after the owner). */
  mode: number;
  uid: number;
  gid: number;
  /** Set the owner to `uid`:`gid` (fchown); false keeps the creator's. */
  chown: boolean;
  atime: Date;
  mtime: Date;
}

/** Most chunks handed to the addon at once; more are joined into one Buffer first. */
const maxChunks = 64;

/**
 * Create the file `path` and write it whole in one trip through libuv's thread pool:
 * open(O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600), write every chunk (short
 * writes continued), fchown when asked, fchmod, futimens, close. An existing file or a
 * final symlink at `path` is EEXIST/ELOOP, never written through. For the many small
 * files of a layer: from Node those six calls are six round trips through the pool,
 * which cost more than the kernel's work.
 *
 * Resolves once the file is closed; rejects with an fs-shaped error naming the failed
 * call (`syscall`) and `path`. A file created before a later call failed stays: the
 * caller owns cleaning up. The chunks must not be changed until the promise settles.
 * Arguments of the wrong type throw a TypeError at the call.
 */
export function writeNewFile(path: string, chunks: readonly Buffer[], attrs: NewFileAttributes): Promise<void> {
  const list = chunks.length > maxChunks ? [Buffer.concat(chunks)] : chunks;
  let settle: (err: Error | null) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  // Called outside the executor so that bad arguments throw here, not as a rejection.
  binding.writeNewFile(
    path,
    list,
    attrs.mode,
    attrs.uid,
    attrs.gid,
    attrs.chown,
    attrs.atime.getTime() / 1000,
    attrs.mtime.getTime() / 1000,
    settle,
  );
  return done;
}
