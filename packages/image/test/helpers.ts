// Shared by the tests; not a *.test.ts file, so uvu never runs it as one.
import { promises as fs } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { type TarWriteEntry, writeTar } from '@berth/image';

/** A fresh directory /tmp/berth-unit-image-<label>-*, where the runner's leftover check looks; removed by `cleanup`. */
export async function tempDir(label: string): Promise<string> {
  return fs.mkdtemp(`/tmp/berth-unit-image-${label}-`);
}

export async function cleanup(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

/** Run `fn` with a temp dir that is removed afterwards, even when `fn` fails. */
export async function withTempDir<T>(label: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await tempDir(label);
  try {
    return await fn(dir);
  } finally {
    await cleanup(dir);
  }
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** The bytes of a tar made of `entries`. */
export function tarBytes(entries: TarWriteEntry[]): Promise<Buffer> {
  return collect(writeTar(entries));
}

export async function gzTarBytes(entries: TarWriteEntry[]): Promise<Buffer> {
  return gzipSync(await tarBytes(entries));
}

/** A stream yielding `data` in pieces of `size` bytes (to exercise chunk boundaries). */
export async function* chunked(data: Buffer, size = 777): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

export async function exists(p: string): Promise<boolean> {
  return fs
    .lstat(p)
    .then(() => true)
    .catch(() => false);
}

/**
 * Await `fn` and return what it threw; fails when it resolves or when the error does
 * not match (`RegExp` on the message, an error class, or a predicate).
 */
export async function rejects(
  fn: () => Promise<unknown>,
  expected?: RegExp | (abstract new (...args: never[]) => Error) | ((err: unknown) => boolean),
): Promise<Error> {
  let resolved = false;
  try {
    await fn();
    resolved = true;
  } catch (err) {
    if (expected instanceof RegExp) {
      if (!expected.test(String((err as Error)?.message)))
        throw new Error(`expected an error matching ${expected}, got: ${String((err as Error)?.message)}`);
    } else if (expected !== undefined && expected.prototype instanceof Error) {
      if (!(err instanceof (expected as abstract new (...args: never[]) => Error))) {
        throw new Error(`expected ${expected.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
      }
    } else if (expected !== undefined && !(expected as (err: unknown) => boolean)(err)) {
      throw new Error(`unexpected error: ${(err as Error)?.message}`);
    }
    return err as Error;
  }
  if (resolved) throw new Error('expected a rejection, but the promise resolved');
  throw new Error('unreachable');
}
