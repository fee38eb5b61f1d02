import { createHash } from 'node:crypto';
import { closeSync, createReadStream, promises as fsp, openSync, readSync } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument } from '@berth/core';
import { peek } from '@berth/image';
import { resolveInRoot } from '@berth/native';
import { decompressArchive, detectArchiveCompression, isTarHeader } from './archive-stream.js';
import { cleanPath } from './clean-path.js';
import { type ContentHashCache, type CopyHashOptions, hashCopyPlan } from './content-hash.js';
import { type CopyPlan, type CopyRequest, type CopySourceTree, planCopy } from './copy-plan.js';
import { type CopyWriteOptions, writeCopyPlan } from './copy-writer.js';
import { type CloneOptions, cloneGit, isGitUrl, parseGitSource } from './git-source.js';
import { fetchUrl } from './http-fetch.js';
import { unpackArchive } from './unpack-archive.js';
import { makeOwnedDir } from './work-dir.js';

/** ADD's file side: COPY's request plus what only ADD has. */
export interface AddRequest extends CopyRequest, CloneOptions {
  /** Unpack local archives (default true; `ADD --unpack=false` / a `--from` source turn it off). */
  unpack?: boolean;
  /** `--checksum=sha256:<hex>`: what a downloaded source must hash to (http(s) sources only). */
  checksum?: string;
}

/** An archive ADD unpacks instead of copying. */
export interface AddArchive {
  /** Host path of the archive. */
  source: string;
  /** Directory inside the target root it is unpacked into. */
  targetDir: string;
}

/**
 * What an ADD writes: a COPY plan (local files, downloads, git checkouts) and the local
 * archives it unpacks. Downloads and checkouts live under the build's work directory
 * until `dispose()`.
 *
 * Lifecycle: `planAdd`, then `hashAddPlan` (the cache key) and, on a cache miss,
 * `writeAddPlan`; `dispose()` in every case.
 */
export interface AddPlan {
  copy: CopyPlan;
  archives: AddArchive[];
  dispose(): Promise<void>;
}

/**
 * Resolve an ADD's sources, Docker's way: an http(s) URL is downloaded (named after the
 * last part of its path, mode 0600, mtime from `Last-Modified`, never unpacked; with
 * `checksum`, a download that hashes to anything else is an InvalidArgument); a git
 * URL (`isGitUrl`, `#ref:subdir`) is checked out and its contents copied (`.git` only
 * with `keepGitDir`); anything else is resolved in `tree` as COPY does, and a file that
 * is a tar (plain, gzip, bzip2, xz or zstd, told by its bytes, not its name) is unpacked
 * into the destination directory instead of copied.
 */
export async function planAdd(
  tree: CopySourceTree,
  request: AddRequest,
  work: { workDir: string; signal?: AbortSignal },
): Promise<AddPlan> {
  const destIsDir = request.dest.endsWith('/') || request.dest === '.' || request.dest.endsWith('/.');
  if (request.sources.length > 1 && !destIsDir) {
    throw new InvalidArgument('When using ADD with more than one source file, the destination must be a directory and end with a /');
  }
  if (request.checksum !== undefined) {
    if (!/^sha256:[0-9a-f]{64}$/.test(request.checksum))
      throw new InvalidArgument(`invalid checksum ${JSON.stringify(request.checksum)}: want sha256:<64 hex digits>`);
    if (request.sources.some((source) => !/^https?:\/\//i.test(source) || isGitUrl(source))) {
      throw new InvalidArgument('checksum can only be given for http(s) sources');
    }
  }
  const removals: Array<() => Promise<void>> = [];
  const dispose = async () => {
    for (const remove of removals.splice(0)) await remove();
  };
  try {
    const copy: CopyPlan = { entries: [], directories: [], fileOrDirectory: [] };
    const add = (part: CopyPlan) => {
      const offset = copy.entries.length;
      copy.entries.push(...part.entries);
      copy.directories.push(...part.directories);
      copy.fileOrDirectory.push(...part.fileOrDirectory.map((f) => ({ ...f, entryIndex: f.entryIndex + offset })));
    };
    const local: string[] = [];
    for (const source of request.sources) {
      if (isGitUrl(source)) {
        const { dir, remove } = await makeOwnedDir(work.workDir, 'add-git');
        removals.push(remove);
        const root = await cloneGit(parseGitSource(source), dir, request);
        add(planCopy({ root, symlinks: 'refuse', name: `git repository ${source}` }, { ...request, sources: ['.'] }));
      } else if (/^https?:\/\//i.test(source)) {
        const { dir, remove } = await makeOwnedDir(work.workDir, 'add-url');
        removals.push(remove);
        const name = await download(source, dir, work.signal, request.checksum);
        add(planCopy({ root: dir, symlinks: 'refuse', name: `the download of ${source}` }, { ...request, sources: [name] }));
      } else {
        local.push(source);
      }
    }
    const archives: AddArchive[] = [];
    if (local.length > 0) {
      const part = planCopy(tree, { ...request, sources: local });
      if (request.unpack ?? true) {
        const kept: CopyPlan = { entries: [], directories: part.directories, fileOrDirectory: [] };
        const underDest = new Map(part.fileOrDirectory.map((f) => [f.entryIndex, f.name]));
        for (const [i, entry] of part.entries.entries()) {
          if (entry.kind === 'file' && entry.topLevel && (await isTarFile(entry.source))) {
            // The destination is the directory to unpack into, with or without its `/`.
            const targetDir = underDest.has(i) ? entry.target : path.posix.dirname(entry.target);
            archives.push({ source: entry.source, targetDir });
            kept.directories.push(targetDir);
            continue;
          }
          const name = underDest.get(i);
          if (name !== undefined) kept.fileOrDirectory.push({ entryIndex: kept.entries.length, name });
          kept.entries.push(entry);
        }
        add(kept);
      } else {
        add(part);
      }
    }
    return { copy, archives, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** The input digest of an ADD step: its copy plan's (`hashCopyPlan`) and each archive's content and place. */
export async function hashAddPlan(plan: AddPlan, options: CopyHashOptions = {}, cache?: ContentHashCache): Promise<string> {
  const parts = [await hashCopyPlan(plan.copy, options, cache)];
  for (const archive of plan.archives) {
    const st = await fsp.stat(archive.source);
    const entry = {
      kind: 'file' as const,
      source: archive.source,
      target: archive.targetDir,
      mode: 0,
      size: st.size,
      mtimeMs: st.mtimeMs,
      dev: st.dev,
      ino: st.ino,
    };
    parts.push(`unpack ${archive.targetDir} ${await hashCopyPlan({ entries: [entry], directories: [], fileOrDirectory: [] }, {}, cache)}`);
  }
  if (parts.length === 1) return parts[0]!;
  return `sha256:${createHash('sha256').update(parts.join('\n')).digest('hex')}`;
}

/** Write an ADD into `targetRoot`: the copy plan, then each archive unpacked (with `unpackArchive`'s checks) in its directory. */
export async function writeAddPlan(plan: AddPlan, targetRoot: string, options: CopyWriteOptions = {}): Promise<void> {
  await writeCopyPlan(plan.copy, targetRoot, options);
  const root = await fsp.realpath(targetRoot);
  for (const archive of plan.archives) {
    const dir = resolveInRoot(root, archive.targetDir);
    await unpackArchive(dir, createReadStream(archive.source), `ADD ${path.basename(archive.source)}`);
  }
}

/** Whether the file at `file` is a tar archive, possibly compressed. */
async function isTarFile(file: string): Promise<boolean> {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(512);
  let length: number;
  try {
    length = readSync(fd, head, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  if (detectArchiveCompression(head.subarray(0, length)) !== 'none') return isCompressedTar(file);
  return isTarHeader(head.subarray(0, length));
}

/** Whether a compressed file holds a tar (Docker copies a `.gz` of anything else as it is). */
async function isCompressedTar(file: string): Promise<boolean> {
  try {
    const { stream } = await decompressArchive(createReadStream(file));
    const { head, cancel } = await peek(stream, 512);
    await cancel();
    return isTarHeader(head.subarray(0, 512));
  } catch {
    return false;
  }
}

/** Download `url` into `dir` as Docker's ADD does; returns the file's name. */
async function download(url: string, dir: string, signal?: AbortSignal, checksum?: string): Promise<string> {
  const parsed = new URL(url);
  const name = cleanPath(decodeURIComponent(parsed.pathname)).split('/').pop() ?? '';
  if (name === '' || name === '.' || name === '..' || name === '/') {
    throw new InvalidArgument(`cannot determine a filename from the URL ${url}: give a destination file name`);
  }
  const fetched = await fetchUrl(url, signal);
  const file = path.join(dir, name);
  const handle = await fsp.open(file, 'wx', 0o600);
  const hash = createHash('sha256');
  try {
    for await (const chunk of fetched.body) {
      hash.update(chunk);
      await handle.write(chunk);
    }
  } finally {
    await handle.close();
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (checksum !== undefined && digest !== checksum) {
    throw new InvalidArgument(`checksum of ${url} is ${digest}, not the expected ${checksum}`);
  }
  await fsp.chmod(file, 0o600);
  if (fetched.lastModified) await fsp.utimes(file, fetched.lastModified, fetched.lastModified);
  return name;
}
