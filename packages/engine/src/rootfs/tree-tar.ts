import { closeSync, constants, fstatSync, openSync, read, readSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { SnapshotChange } from '@berth/core';
import type { TarWriteEntry } from '@berth/image';
import { AT, O_PATH, openAt, RESOLVE, readDir, readlinkAt, type StatAt, statAt } from '@berth/native';

/** Inode → the archive name it was first written under, so later names become hard links. */
type LinkNames = Map<string, string>;

/**
 * How every name below a directory descriptor is opened: one component, never through a
 * symlink, never out of that directory. A name a container swapped for a symlink since
 * it was read fails (ELOOP) instead of leading anywhere.
 */
const oneStep = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;

/** Files up to this size are read with synchronous calls (most of a tree): a thread-pool round trip costs more. */
const syncReadLimit = 1 << 20;
/** Longest stretch of synchronous walking before the event loop gets a turn. */
const yieldEveryMs = 20;

const readAsync = promisify(read);

/*
 * Tar entries of a container's files, read through descriptors: each directory is opened
 * beneath the one it is in (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), each name is
 * stat'ed, read as a link or opened relative to its directory's descriptor, so a process
 * in the running container that swaps a directory for a symlink to the host's `/` between
 * two steps can never make the walk list, stat or read a host file: the swap is seen as
 * the symlink it is, or as a name that is gone. A regular file is opened as O_PATH first
 * and reopened for reading only once fstat says it is one, so a device node swapped in is
 * never opened. Its content is exactly the size its header said: a file that grew is cut,
 * one that shrank (or was swapped) is padded with zeros, as the archive must stay valid.
 */

/**
 * The tar entry of `name` in the directory `dirfd` (not followed when it is a symlink),
 * archived as `archiveName`; undefined for a socket, which a tar cannot hold. A file's
 * body is read when the writer gets to it, relative to `dirfd`, which must still be open
 * then (the tar writer reads each body before it asks for the next entry).
 */
export function entryAt(dirfd: number, name: string, archiveName: string, links: LinkNames): TarWriteEntry | undefined {
  const st = statAt(dirfd, name, AT.SYMLINK_NOFOLLOW);
  const type = st.mode & constants.S_IFMT;
  const common = { path: archiveName, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: new Date(st.mtimeMs) };
  if (type === constants.S_IFDIR)
    return { ...common, path: archiveName.endsWith('/') ? archiveName : `${archiveName}/`, type: 'directory' };
  if (type === constants.S_IFLNK) return { ...common, type: 'symlink', linkpath: linkTargetAt(dirfd, name) };
  if (st.nlink > 1 && type !== constants.S_IFSOCK) {
    const key = `${st.dev}:${st.ino}`;
    const first = links.get(key);
    if (first !== undefined) return { ...common, type: 'hardlink', linkpath: first };
    links.set(key, archiveName);
  }
  if (type === constants.S_IFREG) return { ...common, type: 'file', size: st.size, body: async () => contentAt(dirfd, name, st) };
  if (type === constants.S_IFCHR || type === constants.S_IFBLK) {
    return { ...common, type: type === constants.S_IFCHR ? 'char-device' : 'block-device', devmajor: st.rdevMajor, devminor: st.rdevMinor };
  }
  if (type === constants.S_IFIFO) return { ...common, type: 'fifo' };
  return undefined;
}

/**
 * `name` in `dirfd` and, for a directory, everything below it, named from `archiveName`
 * (`''`: the directory's entries without itself). A name that disappears while it is
 * walked (a running container deletes it) is left out, as Docker's archiver does.
 */
export async function* treeEntries(
  dirfd: number,
  name: string,
  archiveName: string,
  links: LinkNames = new Map(),
): AsyncGenerator<TarWriteEntry> {
  const clock = { sliceStart: performance.now() };
  yield* walk(dirfd, name, archiveName, links, clock, true);
}

async function* walk(
  dirfd: number,
  name: string,
  archiveName: string,
  links: LinkNames,
  clock: { sliceStart: number },
  top: boolean,
): AsyncGenerator<TarWriteEntry> {
  if (performance.now() - clock.sliceStart > yieldEveryMs) {
    await new Promise((resolve) => setImmediate(resolve));
    clock.sliceStart = performance.now();
  }
  let entry: TarWriteEntry | undefined;
  try {
    entry = entryAt(dirfd, name, archiveName === '' ? '.' : archiveName, links);
  } catch (err) {
    if (!top && vanished(err)) return;
    throw err;
  }
  if (!entry) return;
  if (archiveName !== '') yield entry;
  if (entry.type !== 'directory') return;
  let fd: number;
  try {
    fd = openAt(dirfd, name, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW, { resolve: oneStep });
  } catch (err) {
    // No longer the directory that was stat'ed (a symlink or a file now, or gone): its content is not archived.
    if (vanished(err)) return;
    throw err;
  }
  try {
    for (const child of readDir(fd).sort()) {
      yield* walk(fd, child, archiveName === '' ? child : path.posix.join(archiveName, child), links, clock, false);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * A layer tar's entries for `changes` (StorageDriver.changes, sorted by path) read from
 * the root open as `rootfd`: added and modified paths as themselves (a directory without
 * its content, which the changes list when it changed), deleted ones as `.wh.<name>`, an
 * opaque directory (SnapshotChange.opaque) followed by its `.wh..wh..opq` instead of a
 * whiteout per deleted entry. The same changes and files give the same tar on every
 * driver: this, not a driver, writes the layer of `commit`, and the layer a push sends.
 * Each path's directory is opened beneath the root without following a symlink.
 */
export async function* changeEntries(rootfd: number, changes: SnapshotChange[]): AsyncGenerator<TarWriteEntry> {
  const links: LinkNames = new Map();
  // Directories written as opaque: the deletions directly in them are said by their `.wh..wh..opq`.
  const opaque = new Set(changes.filter((c) => c.opaque).map((c) => c.path.replace(/^\/+/, '')));
  for (const change of changes) {
    const rel = change.path.replace(/^\/+/, '');
    const dir = path.posix.dirname(rel);
    if (change.kind === 'deleted') {
      if (opaque.has(dir)) continue;
      yield { path: path.posix.join(dir === '.' ? '' : dir, `.wh.${path.posix.basename(rel)}`), type: 'file', mode: 0o644 };
      continue;
    }
    if (change.opaque) {
      // The directory itself first, then its marker: the marker must not come before the entry that makes it.
      yield* entryOf(rootfd, rel, links);
      yield { path: `${rel}/.wh..wh..opq`, type: 'file', mode: 0o644 };
      continue;
    }
    yield* entryOf(rootfd, rel, links);
  }
}

/** The tar entry of `rel` read beneath the root (none when it vanished since the changes were read). */
async function* entryOf(rootfd: number, rel: string, links: LinkNames): AsyncGenerator<TarWriteEntry> {
  let parent: number;
  try {
    parent = openAt(rootfd, path.posix.dirname(rel), O_PATH | constants.O_DIRECTORY, {
      resolve: RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS,
    });
  } catch (err) {
    // Gone since the changes were read (a running container, not paused): nothing to add.
    if (vanished(err)) return;
    throw err;
  }
  try {
    let entry: TarWriteEntry | undefined;
    try {
      entry = entryAt(parent, path.posix.basename(rel), rel, links);
    } catch (err) {
      if (!vanished(err)) throw err;
    }
    if (entry) yield entry;
  } finally {
    closeSync(parent);
  }
}

/** readlinkat of a name stat'ed as a symlink; one swapped for something else since is gone (ENOENT). */
function linkTargetAt(dirfd: number, name: string): string {
  try {
    return readlinkAt(dirfd, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
    throw Object.assign(new Error(`ENOENT: no longer a symlink, readlinkat '${name}'`), { code: 'ENOENT', path: name });
  }
}

/** The errors of a name that is no longer what it was: gone, or a symlink or a file where a directory was. */
function vanished(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EXDEV';
}

/** Exactly `st.size` bytes of the regular file `name` in `dirfd`: what it holds, cut or padded with zeros. */
async function* contentAt(dirfd: number, name: string, st: StatAt): AsyncGenerator<Uint8Array> {
  const fd = openRegular(dirfd, name, st);
  if (fd === undefined) {
    yield* zeros(st.size);
    return;
  }
  try {
    if (st.size <= syncReadLimit) {
      const buf = Buffer.alloc(st.size);
      let got = 0;
      while (got < st.size) {
        const n = readSync(fd, buf, got, st.size - got, got);
        if (n === 0) break;
        got += n;
      }
      yield buf;
      return;
    }
    let offset = 0;
    while (offset < st.size) {
      const want = Math.min(syncReadLimit, st.size - offset);
      const buf = Buffer.alloc(want);
      const { bytesRead } = await readAsync(fd, buf, 0, want, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
    if (offset < st.size) yield* zeros(st.size - offset);
  } finally {
    closeSync(fd);
  }
}

/**
 * A descriptor to read `name` in `dirfd`, or undefined when it is no longer the regular
 * file that was stat'ed. Opened as O_PATH (no open of a device's driver, no FIFO
 * blocking), checked with fstat, then reopened for reading through the descriptor's own
 * /proc/self/fd entry, which names that very inode and is never looked up by path.
 */
function openRegular(dirfd: number, name: string, st: StatAt): number | undefined {
  let pathFd: number;
  try {
    pathFd = openAt(dirfd, name, O_PATH | constants.O_NOFOLLOW, { resolve: oneStep });
  } catch (err) {
    if (vanished(err)) return undefined;
    throw err;
  }
  try {
    const now = fstatSync(pathFd, { bigint: true });
    if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) return undefined;
    return openSync(`/proc/self/fd/${pathFd}`, constants.O_RDONLY | constants.O_NOCTTY);
  } finally {
    closeSync(pathFd);
  }
}

function* zeros(size: number): Generator<Uint8Array> {
  for (let left = size; left > 0; left -= syncReadLimit) yield Buffer.alloc(Math.min(left, syncReadLimit));
}
