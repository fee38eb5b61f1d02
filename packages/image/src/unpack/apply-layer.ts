import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { BerthError, InvalidArgument, SystemError } from '@berth/core';
import type { ByteSource } from '../byte-source.js';
import { decompress, type Compression } from '../compression.js';
import { Digester, type Digest } from '../digest.js';
import type { TarEntry } from '../tar/entry.js';
import { readTar } from '../tar/reader.js';
import { refuse, RootResolver } from './root-resolver.js';

/** The kind of special file `mknod` makes. */
export type SpecialFileKind = 'char' | 'block' | 'fifo';

/** Options of `applyLayer`. */
export interface ApplyLayerOptions {
  /** Create character and block devices (default true: the engine runs as root). When false they are refused. */
  allowDevices?: boolean;
  /** Give files the tar's uid/gid (default: when running as root). */
  sameOwner?: boolean;
  /**
   * Set an extended attribute on a path without following a final symlink (lsetxattr).
   * Node has no such call; without this option xattrs are counted in `xattrsSkipped`.
   */
  setXattr?: (file: string, name: string, value: Buffer) => Promise<void>;
  /** Make a device node or FIFO. Default: coreutils `mknod`, since Node has no mknod(2). */
  mknod?: (file: string, kind: SpecialFileKind, mode: number, major: number, minor: number) => Promise<void>;
  /** When set, a layer whose uncompressed bytes hash to anything else is an InvalidArgument. */
  expectedDiffId?: Digest;
}

/** What applying a layer found. */
export interface ApplyLayerResult {
  /** sha256 of the uncompressed tar. */
  diffId: Digest;
  /** Sum of the regular files' sizes (Docker's layer size). */
  size: number;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
  compression: Compression;
  entries: number;
  /** Extended attributes present in the tar but not set (no `setXattr` given). */
  xattrsSkipped: number;
}

const whiteoutPrefix = '.wh.';
const opaqueMarker = '.wh..wh..opq';
// aufs bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`) that Docker also ignores.
const whiteoutMetaPrefix = '.wh..wh.';

/**
 * Unpack a layer tar (plain, gzip or zstd; detected from its bytes) into `targetDir`,
 * the mounted view of a snapshot whose lower layers are already there, and compute
 * its diffID from the uncompressed bytes on the way.
 *
 * Whiteouts are applied by deleting through the view: `.wh.<name>` removes `<name>`,
 * `.wh..wh..opq` removes everything under its directory that this layer did not write
 * (Docker's semantics, also when the marker comes after some of the layer's files).
 * Ownership, modes (setuid included), mtimes, symlinks, hardlinks, FIFOs and, when
 * allowed, device nodes are reproduced; directory modes and times are set at the end,
 * once nothing more is written into them.
 *
 * Refused with an InvalidArgument naming the entry, before anything is written for it:
 * `..` in a name or a hardlink target, writing through a symlink that leaves the root
 * (see RootResolver), a hardlink to a missing file or a directory, devices when not
 * allowed. Absolute names are taken relative to `targetDir`. What was unpacked before
 * the refusal stays: the caller discards the snapshot.
 */
export async function applyLayer(targetDir: string, source: ByteSource, options: ApplyLayerOptions = {}): Promise<ApplyLayerResult> {
  const root = await fs.realpath(targetDir);
  const allowDevices = options.allowDevices ?? true;
  const sameOwner = options.sameOwner ?? process.getuid?.() === 0;
  const mknod = options.mknod ?? mknodCommand;
  const resolver = new RootResolver(root);
  const { compression, stream } = await decompress(source);
  const digester = new Digester();
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const chunk of stream) {
      digester.update(chunk);
      yield chunk;
    }
  }

  // Paths (relative to the root, resolved) this layer has written: opaque markers keep them.
  const written = new Set<string>();
  const deferredDirs: Array<{ abs: string; mode: number; atime: Date; mtime: Date }> = [];
  let size = 0;
  let entries = 0;
  let xattrsSkipped = 0;

  for await (const entry of readTar(hashed())) {
    entries++;
    try {
      const parts = entryParts(entry.path, entry.path);
      const base = parts[parts.length - 1];

      if (base === undefined) {
        // `./` or `/`: the layer's root directory itself.
        if (entry.type !== 'directory') throw refuse(entry.path, 'only a directory may name the root');
        if (sameOwner) await fs.lchown(root, entry.uid, entry.gid);
        deferredDirs.push({ abs: root, mode: entry.mode, atime: entry.atime ?? entry.mtime, mtime: entry.mtime });
        continue;
      }

      if (base.startsWith(whiteoutPrefix)) {
        const parent = await resolver.dir(parts.slice(0, -1), false, entry.path);
        if (parent === undefined) continue;
        if (base === opaqueMarker) {
          await removeUnwritten(parent.abs, parent.rel.join('/'), written);
          resolver.invalidate();
        } else if (!base.startsWith(whiteoutMetaPrefix)) {
          const hidden = base.slice(whiteoutPrefix.length);
          if (hidden === '.' || hidden === '..') throw refuse(entry.path, 'whiteout of an invalid name');
          await fs.rm(path.join(parent.abs, hidden), { recursive: true, force: true });
          resolver.invalidate();
        }
        continue;
      }

      const parent = (await resolver.dir(parts.slice(0, -1), true, entry.path))!;
      const abs = path.join(parent.abs, base);
      const relKey = [...parent.rel, base].join('/');

      let hardlinkTarget: string | undefined;
      if (entry.type === 'hardlink') hardlinkTarget = await resolveHardlinkTarget(resolver, entry);
      if ((entry.type === 'char-device' || entry.type === 'block-device') && !allowDevices) {
        throw refuse(entry.path, 'device nodes are not allowed in this layer');
      }

      const existing = await fs.lstat(abs).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (existing && !(existing.isDirectory() && entry.type === 'directory')) {
        if (hardlinkTarget === abs) {
          written.add(relKey);
          continue; // a hardlink to itself: already what it should be
        }
        await fs.rm(abs, { recursive: true, force: true });
        if (existing.isDirectory() || existing.isSymbolicLink()) resolver.invalidate();
      }

      switch (entry.type) {
        case 'directory':
          if (!existing?.isDirectory()) await fs.mkdir(abs, { mode: 0o700 });
          if (sameOwner) await fs.lchown(abs, entry.uid, entry.gid);
          deferredDirs.push({ abs, mode: entry.mode, atime: entry.atime ?? entry.mtime, mtime: entry.mtime });
          break;
        case 'file':
          size += await writeFile(abs, entry, sameOwner);
          break;
        case 'symlink':
          await fs.symlink(entry.linkpath!, abs);
          if (sameOwner) await fs.lchown(abs, entry.uid, entry.gid);
          await fs.lutimes(abs, entry.atime ?? entry.mtime, entry.mtime);
          break;
        case 'hardlink':
          await fs.link(hardlinkTarget!, abs);
          break;
        case 'char-device':
        case 'block-device':
        case 'fifo': {
          const kind: SpecialFileKind = entry.type === 'fifo' ? 'fifo' : entry.type === 'char-device' ? 'char' : 'block';
          await mknod(abs, kind, entry.mode, entry.devmajor, entry.devminor);
          if (sameOwner) await fs.lchown(abs, entry.uid, entry.gid);
          await fs.chmod(abs, entry.mode);
          await fs.utimes(abs, entry.atime ?? entry.mtime, entry.mtime);
          break;
        }
      }
      written.add(relKey);

      if (entry.xattrs.size > 0 && entry.type !== 'hardlink') {
        if (options.setXattr) {
          for (const [name, value] of entry.xattrs) await options.setXattr(abs, name, value);
        } else {
          xattrsSkipped += entry.xattrs.size;
        }
      }
    } catch (err) {
      throw wrap(err, entry.path);
    }
  }

  // Directory modes and times last: writing children would change the times, and a
  // read-only mode would stop a non-root unpack from writing them.
  for (let i = deferredDirs.length - 1; i >= 0; i--) {
    const dir = deferredDirs[i]!;
    const st = await fs.lstat(dir.abs).catch(() => undefined);
    if (!st?.isDirectory()) continue; // removed or replaced later in the layer
    await fs.chmod(dir.abs, dir.mode);
    await fs.utimes(dir.abs, dir.atime, dir.mtime);
  }

  const diffId = digester.digest();
  if (options.expectedDiffId !== undefined && diffId !== options.expectedDiffId) {
    throw new InvalidArgument(`layer diffID mismatch: expected ${options.expectedDiffId}, got ${diffId}`);
  }
  return { diffId, size, tarSize: digester.size, compression, entries, xattrsSkipped };
}

/**
 * The components of an archive path, relative to the root: a leading `/` is dropped
 * (absolute names are relative to the layer), `.` and empty parts vanish, `..` is refused.
 */
export function entryParts(name: string, entry: string): string[] {
  const parts: string[] = [];
  for (const piece of name.split('/')) {
    if (piece === '' || piece === '.') continue;
    if (piece === '..') throw refuse(entry, 'path contains ".." and would leave the layer\'s root');
    parts.push(piece);
  }
  return parts;
}

async function resolveHardlinkTarget(resolver: RootResolver, entry: TarEntry): Promise<string> {
  const targetParts = entryParts(entry.linkpath!, entry.path);
  const name = targetParts.pop();
  if (name === undefined) throw refuse(entry.path, 'hardlink to the root');
  const dir = await resolver.dir(targetParts, false, entry.path);
  const target = dir && path.join(dir.abs, name);
  const st = target && (await fs.lstat(target).catch(() => undefined));
  if (!target || !st) throw refuse(entry.path, `hardlink target ${JSON.stringify(entry.linkpath)} does not exist`);
  if (st.isDirectory()) throw refuse(entry.path, `hardlink target ${JSON.stringify(entry.linkpath)} is a directory`);
  return target;
}

async function writeFile(abs: string, entry: TarEntry, sameOwner: boolean): Promise<number> {
  const handle = await fs.open(abs, 'wx', 0o600);
  let size = 0;
  try {
    for await (const chunk of entry.body) {
      let offset = 0;
      while (offset < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
        offset += bytesWritten;
      }
      size += chunk.length;
    }
    // chown before chmod: chown clears setuid/setgid bits.
    if (sameOwner) await handle.chown(entry.uid, entry.gid);
    await handle.chmod(entry.mode);
    await handle.utimes(entry.atime ?? entry.mtime, entry.mtime);
  } finally {
    await handle.close();
  }
  return size;
}

/** Remove everything under `dirAbs` (recursively) that this layer did not write. */
async function removeUnwritten(dirAbs: string, dirRel: string, written: Set<string>): Promise<void> {
  for (const name of await fs.readdir(dirAbs)) {
    const rel = dirRel === '' ? name : `${dirRel}/${name}`;
    const abs = path.join(dirAbs, name);
    if (!written.has(rel)) {
      await fs.rm(abs, { recursive: true, force: true });
      continue;
    }
    const st = await fs.lstat(abs);
    if (st.isDirectory()) await removeUnwritten(abs, rel, written);
  }
}

const execFileAsync = promisify(execFile);

async function mknodCommand(file: string, kind: SpecialFileKind, mode: number, major: number, minor: number): Promise<void> {
  const args = ['-m', (mode & 0o7777).toString(8), file, kind === 'fifo' ? 'p' : kind === 'char' ? 'c' : 'b'];
  if (kind !== 'fifo') args.push(String(major), String(minor));
  try {
    await execFileAsync('mknod', args);
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new SystemError(`mknod ${file}: ${stderr || (err as Error).message}`, { cause: err });
  }
}

function wrap(err: unknown, entry: string): unknown {
  if (err instanceof BerthError) return err;
  const e = err as NodeJS.ErrnoException;
  return new SystemError(`unpacking tar entry ${JSON.stringify(entry)}: ${e.message ?? String(err)}`, { cause: err });
}
