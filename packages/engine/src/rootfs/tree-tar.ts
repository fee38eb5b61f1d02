import { constants, createReadStream, promises as fs, type Stats } from 'node:fs';
import * as path from 'node:path';
import type { SnapshotChange } from '@berth/core';
import type { TarWriteEntry } from '@berth/image';
import { openInRoot } from '@berth/native';

/** Inode → the archive name it was first written under, so later names become hard links. */
type LinkNames = Map<string, string>;

/**
 * The tar entry of `rel` inside `root` (not followed when it is a symlink), named `name`;
 * undefined for a socket, which a tar cannot hold. A file's content is read through
 * openat2(RESOLVE_IN_ROOT | O_NOFOLLOW) when the writer gets to it, so a container that
 * swaps a path for a symlink meanwhile can never make it read a host file.
 */
export async function entryOf(root: string, rel: string, name: string, links: LinkNames): Promise<TarWriteEntry | undefined> {
  const st = await fs.lstat(path.join(root, rel));
  const common = { path: name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
  if (st.isDirectory()) return { ...common, path: name.endsWith('/') ? name : `${name}/`, type: 'directory' };
  if (st.isSymbolicLink()) return { ...common, type: 'symlink', linkpath: await fs.readlink(path.join(root, rel)) };
  if (st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = links.get(key);
    if (first !== undefined) return { ...common, type: 'hardlink', linkpath: first };
    links.set(key, name);
  }
  if (st.isFile()) return { ...common, type: 'file', size: st.size, body: async () => contentOf(root, rel) };
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    return { ...common, type: st.isCharacterDevice() ? 'char-device' : 'block-device', devmajor: major(st), devminor: minor(st) };
  }
  if (st.isFIFO()) return { ...common, type: 'fifo' };
  return undefined;
}

/** `rel` and, for a directory, everything below it, named from `name` (`''`: the root's entries without the root). */
export async function* treeEntries(root: string, rel: string, name: string, links: LinkNames = new Map()): AsyncGenerator<TarWriteEntry> {
  const entry = await entryOf(root, rel, name === '' ? '.' : name, links);
  if (!entry) return;
  if (name !== '') yield entry;
  if (entry.type !== 'directory') return;
  for (const child of (await fs.readdir(path.join(root, rel))).sort()) {
    yield* treeEntries(root, path.posix.join(rel, child), name === '' ? child : path.posix.join(name, child), links);
  }
}

/**
 * A layer tar's entries for `changes` (StorageDriver.changes, sorted by path) read from
 * the mounted root: added and modified paths as themselves (a directory without its
 * content, which the changes list when it changed), deleted ones as `.wh.<name>`.
 */
export async function* changeEntries(root: string, changes: SnapshotChange[]): AsyncGenerator<TarWriteEntry> {
  const links: LinkNames = new Map();
  for (const change of changes) {
    const rel = change.path.replace(/^\/+/, '');
    if (change.kind === 'deleted') {
      const dir = path.posix.dirname(rel);
      yield { path: path.posix.join(dir === '.' ? '' : dir, `.wh.${path.posix.basename(rel)}`), type: 'file', mode: 0o644 };
      continue;
    }
    const entry = await entryOf(root, rel, rel, links).catch((err: NodeJS.ErrnoException) => {
      // Gone since the changes were read (a running container, not paused): nothing to add.
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (entry) yield entry;
  }
}

async function contentOf(root: string, rel: string): Promise<AsyncIterable<Uint8Array>> {
  const fd = openInRoot(root, rel, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NOCTTY);
  return createReadStream('', { fd, autoClose: true });
}

function major(st: Stats): number {
  return Number((BigInt(st.rdev) >> 8n) & 0xfffn) | Number((BigInt(st.rdev) >> 32n) & ~0xfffn);
}

function minor(st: Stats): number {
  return Number(BigInt(st.rdev) & 0xffn) | Number((BigInt(st.rdev) >> 12n) & ~0xffn);
}
