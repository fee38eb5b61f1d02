import { binding } from './binding.js';

/** What `copyTree` copied: the entries made in the target, and the sockets it left out. */
export interface CopiedTree {
  entries: number;
  skipped: number;
}

/**
 * Copy the content of the directory open at `srcDirFd` into the empty directory open at
 * `dstDirFd`, in one job on libuv's thread pool (csrc/copy_tree.c), then give the target
 * the source's owner, mode, xattrs and times. Every name is opened relative to its
 * parent's descriptor without following a symlink, so the copy never reads or writes
 * outside the two trees: a symlink is copied as a symlink. Kept: data, owners, modes
 * (setuid included), xattrs (`security.capability` set after the owner, which clears
 * it), times, device nodes and fifos (made anew), hard links within the tree (one copy,
 * linked for the other names). Sockets are skipped and counted, as Docker's copy does.
 *
 * `threads` (1 to 8) is how many threads share the directories: the pool thread and
 * `threads - 1` of the job's own; a hard link's later names are made at the end, once
 * every copy exists. Both descriptors stay the caller's, open until the promise settles. The first failure
 * rejects with an fs-shaped error naming the call (`syscall`) and the path relative to
 * the source (`path`); what was made stays, for the caller to remove.
 */
export function copyTree(srcDirFd: number, dstDirFd: number, { threads = 1 }: { threads?: number } = {}): Promise<CopiedTree> {
  let settle: (err: Error | null, done?: CopiedTree) => void = () => {};
  const done = new Promise<CopiedTree>((resolve, reject) => {
    settle = (err, copied) => (err ? reject(err) : resolve(copied!));
  });
  // Called outside the executor so that bad arguments throw here, not as a rejection.
  binding.copyTree(srcDirFd, dstDirFd, threads, settle);
  return done;
}
