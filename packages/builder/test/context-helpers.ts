// Shared by the context tests; not a *.test.ts file, so uvu never runs it as one.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** A fresh directory /tmp/berth-unit-builder-<label>-*, where the runner's leftover check looks. */
export function tempDir(label: string): Promise<string> {
  return fs.mkdtemp(`/tmp/berth-unit-builder-${label}-`);
}

/** Run `fn` with a temp dir that is removed afterwards, even when `fn` fails. */
export async function withTempDir<T>(label: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await tempDir(label);
  try {
    return await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Make files under `root`: a string is a file's content, `{ link }` a symlink, `{ dir: true }` a directory. */
export async function makeTree(root: string, files: Record<string, string | { link: string } | { dir: true }>): Promise<void> {
  for (const [name, spec] of Object.entries(files)) {
    const p = path.join(root, name);
    await fs.mkdir(path.dirname(p), { recursive: true });
    if (typeof spec === 'string') await fs.writeFile(p, spec);
    else if ('link' in spec) await fs.symlink(spec.link, p);
    else await fs.mkdir(p, { recursive: true });
  }
}

/** Every path under `root` (relative, sorted), directories with a trailing `/`. */
export async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const name of (await fs.readdir(path.join(root, rel))).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await fs.lstat(path.join(root, r));
      if (st.isDirectory()) {
        out.push(`${r}/`);
        await walk(r);
      } else {
        out.push(r);
      }
    }
  };
  await walk('');
  return out;
}

/** Await `promise` and return the error it rejects with; fails when it resolves. */
export async function rejection(promise: Promise<unknown> | (() => unknown)): Promise<Error & { code?: string }> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}
