import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { InvalidArgument, isBerthError, SystemError } from '@berth/core';
import type { ByteSource } from '../byte-source.js';
import { type Compression, decompress } from '../compression.js';
import { type Digest, Digester } from '../digest.js';
import type { TarEntry } from '../tar/entry.js';
import { readTar } from '../tar/reader.js';
import { checkSymlinkTarget, entryParts, opaqueMarker, whiteoutMetaPrefix, whiteoutPrefix, whiteoutTarget } from './entry-name.js';
import { ConcurrentFileWrites, concurrentFileMax } from './file-writes.js';
import { hostTree, RootResolver, refuse, type TreeView } from './root-resolver.js';
import { SpaceGuard } from './space-guard.js';
import { writeEntryContent } from './write-entry-content.js';

export { entryParts } from './entry-name.js';

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
  /**
   * Apply `.wh.` entries as deletions (default true). False for a tar that is not a layer
   * (`docker cp` into a container), where `.wh.x` is just a file of that name.
   */
  whiteouts?: boolean;
  /**
   * Bytes the layer must leave free on the target's filesystem (default 2% of it, at
   * most 1 GiB): a file that would eat into them is refused before it is written (SpaceGuard).
   */
  reserveBytes?: number;
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

/** Longest stretch of synchronous unpacking before the event loop gets a turn. */
const yieldEveryMs = 20;

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
 * Refused with an InvalidArgument naming the entry, before the entry itself is written:
 * `..` in a name or a hardlink target, a name or symlink target longer than the kernel
 * takes, writing through a symlink that leaves the root (see RootResolver), a hardlink
 * to a missing file or a directory, a whiteout of `.`, `..` or nothing, devices when not
 * allowed, a file that would not fit on the disk (SpaceGuard). The tar reader refuses
 * malformed headers, bad pax values and a stream that goes on past its end. Absolute
 * names are taken relative to `targetDir`. What was unpacked before the refusal stays:
 * the caller discards the snapshot.
 *
 * New files up to 256 KiB are written through the thread pool, several at once, each
 * made whole by one native call (`ConcurrentFileWrites`); the function returns once
 * every one is written.
 */
export async function applyLayer(targetDir: string, source: ByteSource, options: ApplyLayerOptions = {}): Promise<ApplyLayerResult> {
  const root = await fs.promises.realpath(targetDir);
  const allowDevices = options.allowDevices ?? true;
  const sameOwner = options.sameOwner ?? process.getuid?.() === 0;
  const mknod = options.mknod ?? mknodCommand;
  const applyWhiteouts = options.whiteouts ?? true;
  const writes = new ConcurrentFileWrites();
  // Directories this unpack made (the root too when it starts empty): what is in them is
  // only what this layer wrote, so whether a name is taken is known without asking the
  // kernel (an lstat there waits for the creations in flight in that directory).
  const freshDirs = new Set<string>();
  if (fs.readdirSync(root).length === 0) freshDirs.add(root);
  // A file still being written is a file already: a later name through it is refused, never made a directory.
  const tree: TreeView = {
    kind: (abs) => (writes.pending(abs) ? 'other' : hostTree.kind(abs)),
    readlink: hostTree.readlink,
    mkdir(abs) {
      hostTree.mkdir(abs);
      freshDirs.add(abs);
    },
  };
  const resolver = new RootResolver(root, tree);
  const space = new SpaceGuard(root, options.reserveBytes);
  const { compression, stream } = await decompress(source);
  const digester = new Digester();

  // Paths (relative to the root, resolved) this layer has written: opaque markers keep them.
  const written = new Set<string>();
  const deferredDirs: Array<{ abs: string; mode: number; atime: Date; mtime: Date }> = [];
  let size = 0;
  let entries = 0;
  let xattrsSkipped = 0;

  let sliceStart = performance.now();
  try {
    for await (const entry of readTar(digester.tee(stream))) {
      entries++;
      // The per-entry work is synchronous (see below); give the event loop a turn now and then.
      if (performance.now() - sliceStart > yieldEveryMs) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
      try {
        const parts = entryParts(entry.path, entry.path);
        const base = parts[parts.length - 1];

        if (base === undefined) {
          // `./` or `/`: the layer's root directory itself.
          if (entry.type !== 'directory') throw refuse(entry.path, 'only a directory may name the root');
          if (sameOwner) fs.lchownSync(root, entry.uid, entry.gid);
          deferredDirs.push({ abs: root, mode: entry.mode, atime: entry.atime ?? entry.mtime, mtime: entry.mtime });
          continue;
        }

        if (applyWhiteouts && base.startsWith(whiteoutPrefix)) {
          await writes.drain(); // it may remove files still being written
          const parent = resolver.dir(parts.slice(0, -1), false, entry.path);
          if (parent === undefined) continue;
          if (base === opaqueMarker) {
            removeUnwritten(parent.abs, parent.rel.join('/'), written);
            resolver.invalidate();
          } else if (!base.startsWith(whiteoutMetaPrefix)) {
            const hidden = whiteoutTarget(base, entry.path);
            fs.rmSync(path.join(parent.abs, hidden), { recursive: true, force: true });
            resolver.invalidate();
          }
          continue;
        }

        const parent = resolver.dir(parts.slice(0, -1), true, entry.path)!;
        const abs = path.join(parent.abs, base);
        const relKey = [...parent.rel, base].join('/');

        // What is at `abs` now, when files are being written: one of them, or something this
        // entry replaces (a directory they may be under), means waiting for them first.
        const nothingThere = freshDirs.has(parent.abs) && !written.has(relKey);
        let existing = !nothingThere && (writes.size > 0 || entry.type === 'file') ? hostTree.kind(abs) : undefined;
        if (
          writes.size > 0 &&
          (writes.pending(abs) ||
            entry.type === 'hardlink' ||
            (existing !== undefined && !(existing === 'directory' && entry.type === 'directory')))
        ) {
          await writes.drain();
          existing = hostTree.kind(abs);
        }

        let hardlinkTarget: string | undefined;
        if (entry.type === 'hardlink') hardlinkTarget = resolveHardlinkTarget(resolver, entry);
        if ((entry.type === 'char-device' || entry.type === 'block-device') && !allowDevices) {
          throw refuse(entry.path, 'device nodes are not allowed in this layer');
        }

        if (hardlinkTarget === abs) {
          written.add(relKey);
          continue; // a hardlink to itself: already what it should be
        }
        // Create optimistically; only when something is in the way, look at it and
        // replace it (unless both are directories). A fresh snapshot rarely has anything.
        const create = <T>(make: () => T): T | undefined => {
          try {
            return make();
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
            const existing = fs.lstatSync(abs);
            if (existing.isDirectory() && entry.type === 'directory') return undefined;
            fs.rmSync(abs, { recursive: true, force: true });
            if (existing.isDirectory() || existing.isSymbolicLink()) resolver.invalidate();
            return make();
          }
        };

        switch (entry.type) {
          case 'directory':
            create(() => {
              fs.mkdirSync(abs, { mode: 0o700 });
              freshDirs.add(abs);
            });
            if (sameOwner) fs.lchownSync(abs, entry.uid, entry.gid);
            deferredDirs.push({ abs, mode: entry.mode, atime: entry.atime ?? entry.mtime, mtime: entry.mtime });
            break;
          case 'file':
            space.claim(entry.size, entry.path);
            if (existing === undefined && entry.size <= concurrentFileMax && entry.xattrs.size === 0) {
              // A new small file: written by the thread pool while the next entries are read.
              const chunks: Buffer[] = [];
              for await (const chunk of entry.body) chunks.push(chunk);
              await writes.add({
                abs,
                chunks,
                size: entry.size,
                mode: entry.mode,
                uid: entry.uid,
                gid: entry.gid,
                atime: entry.atime ?? entry.mtime,
                mtime: entry.mtime,
                chown: sameOwner,
                entry: entry.path,
              });
              size += entry.size;
            } else {
              size += await writeEntryContent(create(() => fs.openSync(abs, 'wx', 0o600))!, entry, sameOwner);
            }
            break;
          case 'symlink':
            checkSymlinkTarget(entry.linkpath!, entry.path);
            create(() => fs.symlinkSync(entry.linkpath!, abs));
            if (sameOwner) fs.lchownSync(abs, entry.uid, entry.gid);
            fs.lutimesSync(abs, entry.atime ?? entry.mtime, entry.mtime);
            break;
          case 'hardlink':
            create(() => fs.linkSync(hardlinkTarget!, abs));
            break;
          case 'char-device':
          case 'block-device':
          case 'fifo': {
            const kind: SpecialFileKind = entry.type === 'fifo' ? 'fifo' : entry.type === 'char-device' ? 'char' : 'block';
            if (fs.lstatSync(abs, { throwIfNoEntry: false })) {
              fs.rmSync(abs, { recursive: true, force: true });
              resolver.invalidate();
            }
            await mknod(abs, kind, entry.mode, entry.devmajor, entry.devminor);
            if (sameOwner) fs.lchownSync(abs, entry.uid, entry.gid);
            fs.chmodSync(abs, entry.mode);
            fs.utimesSync(abs, entry.atime ?? entry.mtime, entry.mtime);
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
    await writes.drain();
  } catch (err) {
    // Nothing keeps writing after the layer was refused; the first failure is the one reported.
    await writes.drain().catch(() => {});
    throw wrap(err, 'of the layer');
  }

  // Directory modes and times last: writing children would change the times, and a
  // read-only mode would stop a non-root unpack from writing them.
  // A later entry may have replaced the directory, or one of its parents, with a symlink:
  // only a path that is still real directories all the way down is touched.
  for (let i = deferredDirs.length - 1; i >= 0; i--) {
    const dir = deferredDirs[i]!;
    if (!isRealDirectoryPath(root, dir.abs)) continue;
    fs.chmodSync(dir.abs, dir.mode);
    fs.utimesSync(dir.abs, dir.atime, dir.mtime);
  }

  const diffId = digester.digest();
  if (options.expectedDiffId !== undefined && diffId !== options.expectedDiffId) {
    throw new InvalidArgument(`layer diffID mismatch: expected ${options.expectedDiffId}, got ${diffId}`);
  }
  return { diffId, size, tarSize: digester.size, compression, entries, xattrsSkipped };
}

function resolveHardlinkTarget(resolver: RootResolver, entry: TarEntry): string {
  const targetParts = entryParts(entry.linkpath!, entry.path);
  const name = targetParts.pop();
  if (name === undefined) throw refuse(entry.path, 'hardlink to the root');
  const dir = resolver.dir(targetParts, false, entry.path);
  const target = dir && path.join(dir.abs, name);
  const st = target && fs.lstatSync(target, { throwIfNoEntry: false });
  if (!target || !st) throw refuse(entry.path, `hardlink target ${JSON.stringify(entry.linkpath)} does not exist`);
  if (st.isDirectory()) throw refuse(entry.path, `hardlink target ${JSON.stringify(entry.linkpath)} is a directory`);
  return target;
}

/** True when every component of `abs` below `root` is a directory, not a symlink. */
function isRealDirectoryPath(root: string, abs: string): boolean {
  let cur = root;
  if (!fs.lstatSync(root, { throwIfNoEntry: false })?.isDirectory()) return false;
  for (const part of path.relative(root, abs).split('/')) {
    if (part === '') continue;
    cur = path.join(cur, part);
    if (!fs.lstatSync(cur, { throwIfNoEntry: false })?.isDirectory()) return false;
  }
  return true;
}

/** Remove everything under `dirAbs` (recursively) that this layer did not write. */
function removeUnwritten(dirAbs: string, dirRel: string, written: Set<string>): void {
  for (const name of fs.readdirSync(dirAbs)) {
    const rel = dirRel === '' ? name : `${dirRel}/${name}`;
    const abs = path.join(dirAbs, name);
    if (!written.has(rel)) {
      fs.rmSync(abs, { recursive: true, force: true });
      continue;
    }
    if (fs.lstatSync(abs).isDirectory()) removeUnwritten(abs, rel, written);
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
  if (isBerthError(err)) return err;
  const e = err as NodeJS.ErrnoException & { entry?: string };
  // A concurrent write's failure names its own entry, not the one being read when it surfaced.
  return new SystemError(`unpacking tar entry ${JSON.stringify(e.entry ?? entry)}: ${e.message ?? String(err)}`, { cause: err });
}
