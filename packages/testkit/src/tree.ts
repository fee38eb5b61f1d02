import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Write files (creating parent directories); a string is UTF-8 content, a number that many bytes of 'x'. */
export async function writeFiles(dir: string, files: Record<string, string | number>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, typeof content === 'number' ? Buffer.alloc(content, 'x') : content);
  }
}

/** Every path under `dir`, relative and sorted, directories marked with a trailing slash. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    const rel = path.relative(dir, path.join(entry.parentPath, entry.name));
    out.push(entry.isDirectory() ? `${rel}/` : rel);
  }
  return out.sort();
}

/**
 * Every path under `dir` (sorted, recursively, symlinks not followed) with its mode, link
 * count and, for a regular file, the SHA-256 of its content: one line each. Two snapshots
 * are equal only if nothing below `dir` was created, removed, re-linked or changed; what
 * escape tests compare before and after a hostile layer.
 */
export async function treeSnapshot(dir: string): Promise<string> {
  const out: string[] = [];
  async function walk(d: string): Promise<void> {
    for (const name of (await fs.readdir(d)).sort()) {
      const p = path.join(d, name);
      const st = await fs.lstat(p);
      const hash = st.isFile()
        ? createHash('sha256')
            .update(await fs.readFile(p))
            .digest('hex')
        : '';
      out.push(`${path.relative(dir, p)} ${st.mode} ${st.nlink} ${hash}`);
      if (st.isDirectory()) await walk(p);
    }
  }
  await walk(dir);
  return out.join('\n');
}

export async function readText(file: string): Promise<string> {
  return fs.readFile(file, 'utf8');
}

/** mknod(1): Node cannot make device nodes or fifos. */
export async function mknod(file: string, type: 'c' | 'b' | 'p', major?: number, minor?: number): Promise<void> {
  const args = type === 'p' ? [file, 'p'] : [file, type, String(major), String(minor)];
  await run('mknod', args);
}

/** Set and read a user xattr through Python (Node has no xattr API; coreutils has no setfattr). */
export async function setXattr(file: string, name: string, value: string): Promise<void> {
  await run('python3', [
    '-c',
    'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode(), follow_symlinks=False)',
    file,
    name,
    value,
  ]);
}

export async function getXattr(file: string, name: string): Promise<string> {
  const { stdout } = await run('python3', [
    '-c',
    'import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())',
    file,
    name,
  ]);
  return stdout;
}
