import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { NotFound } from '@berth/core';
import { type TarWriteEntry, writeTar } from '@berth/image';
import { detectArchiveCompression, isTarHeader } from './archive-stream.js';
import { defaultDockerfileName } from './build-context.js';
import { IgnoreMatcher, parseDockerignore } from './dockerignore.js';
import { specialFileEntry } from './special-file-entry.js';

/** Options of `packDirectoryContext`: `build [-f <file>|-f -] <dir>` as the CLI gets them. */
export interface PackOptions {
  /** `-f`: the Dockerfile's path, relative to `cwd` (default: `Dockerfile`, then `dockerfile`, in the context). */
  dockerfile?: string;
  /** `-f -`: the Dockerfile's content, read from stdin. */
  dockerfileContent?: Buffer;
  /** What a relative `-f` is relative to (default: the process's working directory). */
  cwd?: string;
}

/** A context ready for `POST /build`: the tar body and the `dockerfile` parameter to send with it. */
export interface PackedContext {
  tar: Readable;
  dockerfile: string;
}

/**
 * Pack a directory into the build context `POST /build` receives, as the docker CLI does
 * (cli/command/image/build): the ignore file (`<Dockerfile>.dockerignore` beside the
 * Dockerfile, else the context's `.dockerignore`) leaves files out, but never the
 * Dockerfile or the ignore file themselves (the daemon needs them, and leaves them out of
 * `COPY .` by the same rules); a Dockerfile outside the context, or from stdin, is added
 * as `.dockerfile.<random>`, a name the ignore file is made to list; an ignored directory
 * is still searched when an exception (`!dir/keep`) may bring part of it back. Entries:
 * relative names in sorted order, owned by 0:0 (the CLI's `ChownOpts`), modes and mtimes
 * kept, hardlinks kept, sockets left out. Files are read as the tar is consumed.
 */
export async function packDirectoryContext(contextDir: string, options: PackOptions = {}): Promise<PackedContext> {
  const root = await fsp.realpath(contextDir).catch(() => {
    throw new NotFound(`build context directory not found: ${contextDir}`);
  });
  const cwd = options.cwd ?? process.cwd();
  let dockerfileAbs: string | undefined;
  const content = options.dockerfileContent;
  if (content === undefined) {
    const candidates =
      options.dockerfile === undefined
        ? [path.join(root, defaultDockerfileName), path.join(root, defaultDockerfileName.toLowerCase())]
        : [path.resolve(cwd, options.dockerfile)];
    dockerfileAbs = candidates.find((c) => isFile(c));
    if (dockerfileAbs === undefined)
      throw new NotFound(`Cannot locate specified Dockerfile: ${options.dockerfile ?? defaultDockerfileName}`);
  }
  const realDockerfile = dockerfileAbs === undefined ? undefined : await fsp.realpath(dockerfileAbs);
  const rel = realDockerfile === undefined ? undefined : path.relative(root, realDockerfile);
  const outside = rel === undefined || rel.startsWith('..') || path.isAbsolute(rel);

  const specificFile = dockerfileAbs === undefined ? undefined : `${dockerfileAbs}.dockerignore`;
  const specific = specificFile !== undefined && isFile(specificFile) ? readFileSync(specificFile, 'utf8') : undefined;
  const general = isFile(path.join(root, '.dockerignore')) ? readFileSync(path.join(root, '.dockerignore'), 'utf8') : undefined;
  const patterns = parseDockerignore(specific ?? general ?? '');
  const matcher = new IgnoreMatcher(patterns);
  const keep: string[] = [];
  if (!outside) {
    const relSlash = rel!.split(path.sep).join('/');
    // The files the daemon must read are sent even when ignored (TrimBuildFilesFromExcludes).
    for (const name of ['.dockerignore', relSlash, ...(specific !== undefined ? [`${relSlash}.dockerignore`] : [])]) {
      if (matcher.ignores(name)) keep.push(`!${name}`);
    }
  }
  const excludes = keep.length === 0 ? matcher : new IgnoreMatcher([...patterns, ...keep]);

  const extra = new Map<string, Buffer>();
  let dockerfileParam: string;
  if (outside) {
    dockerfileParam = `.dockerfile.${randomBytes(10).toString('hex')}`;
    const listed = `\n${dockerfileParam}\n${specific !== undefined ? `${dockerfileParam}.dockerignore\n` : ''}`;
    extra.set(dockerfileParam, content ?? readFileSync(realDockerfile!));
    extra.set('.dockerignore', Buffer.from((general ?? '') + listed));
    if (specific !== undefined) extra.set(`${dockerfileParam}.dockerignore`, Buffer.from(specific + listed));
  } else {
    dockerfileParam = rel!.split(path.sep).join('/');
  }
  return { tar: writeTar(contextEntries(root, excludes, extra)), dockerfile: dockerfileParam };
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function* contextEntries(root: string, excludes: IgnoreMatcher, extra: Map<string, Buffer>): Generator<TarWriteEntry> {
  const links = new Map<string, string>();
  const now = new Date();
  function* walk(rel: string): Generator<TarWriteEntry> {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      if (rel === '' && extra.has(name)) continue;
      const host = path.join(root, childRel);
      const st = lstatSync(host);
      const ignored = excludes.ignores(childRel);
      if (ignored && !(st.isDirectory() && excludes.hasExceptions)) continue;
      const common = { mode: st.mode & 0o7777, uid: 0, gid: 0, mtime: st.mtime };
      if (st.isDirectory()) {
        if (!ignored) yield { ...common, path: `${childRel}/`, type: 'directory' };
        yield* walk(childRel);
      } else if (st.isSymbolicLink()) {
        yield { ...common, path: childRel, type: 'symlink', linkpath: readlinkSync(host) };
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first !== undefined) {
          yield { ...common, path: childRel, type: 'hardlink', linkpath: first };
          continue;
        }
        if (st.nlink > 1) links.set(key, childRel);
        const body = st.size === 0 ? undefined : async () => createReadStream(host, { start: 0, end: st.size - 1 });
        yield { ...common, path: childRel, type: 'file', size: st.size, body };
      } else {
        const special = specialFileEntry(st, childRel, common);
        if (special) yield special;
      }
    }
  }
  yield* walk('');
  for (const [name, body] of [...extra].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    yield { path: name, type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: now, body };
  }
}

/**
 * The context of `build - < file` as the docker CLI makes it (GetContextFromReader): a
 * body that is an archive (a tar, or gzip, bzip2, xz or zstd data) is sent as it is; anything
 * else is a Dockerfile, sent as a tar holding just `Dockerfile` (an empty context).
 */
export function packStdinContext(data: Buffer): PackedContext {
  if (detectArchiveCompression(data) !== 'none' || isTarHeader(data.subarray(0, 512))) {
    return { tar: Readable.from([data]), dockerfile: defaultDockerfileName };
  }
  const entry: TarWriteEntry = { path: defaultDockerfileName, type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: new Date(), body: data };
  return { tar: writeTar([entry]), dockerfile: defaultDockerfileName };
}
