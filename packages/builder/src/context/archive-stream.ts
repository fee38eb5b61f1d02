import { spawn } from 'node:child_process';
import { pipeline, Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { InvalidArgument } from '@berth/core';
import { peek } from '@berth/image';

/** The compressions Docker accepts for a build context and for ADD's local archives. */
export type ArchiveCompression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** The compression of a stream from its magic number (Docker's `DetectCompression`). */
export function detectArchiveCompression(head: Uint8Array): ArchiveCompression {
  const starts = (...magic: number[]) => head.length >= magic.length && magic.every((b, i) => head[i] === b);
  if (starts(0x1f, 0x8b, 0x08)) return 'gzip';
  if (starts(0x42, 0x5a, 0x68)) return 'bzip2';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  return 'none';
}

/**
 * Whether a 512-byte block is a tar header: its checksum (the sum of its bytes with the
 * checksum field read as spaces, as every tar since V7 writes it) is what the field says.
 * Docker decides the same way whether a build body or an ADD source is an archive.
 */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < 512) return false;
  const field = Buffer.from(block.subarray(148, 156))
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
  if (!/^[0-7]{1,7}$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum === Number.parseInt(field, 8);
}

/** Whether the first bytes of an uncompressed stream begin a tar: a header, or an empty archive's zero blocks. */
export function startsTar(head: Uint8Array): boolean {
  const emptyArchive = head.length >= 1024 && head.subarray(0, 1024).every((b) => b === 0);
  return emptyArchive || isTarHeader(head.subarray(0, 512));
}

/** The refusal of a stream that does not begin a tar: `<what> is empty`, or not a valid tar archive (and of what data). */
export function notATar(what: string, head: Uint8Array, compression: ArchiveCompression): InvalidArgument {
  return new InvalidArgument(
    head.length === 0 ? `${what} is empty` : `${what} is not a valid tar archive${compression === 'none' ? '' : ` (${compression} data)`}`,
  );
}

/**
 * The uncompressed bytes of `source` (plain, gzip, bzip2, xz or zstd, told by its magic
 * number). gzip and zstd decode with node:zlib; bzip2 and xz, which Node lacks, through
 * the `bzip2 -dc` / `xz -dc` programs (Docker also runs `xz`), fed and drained as streams.
 * A corrupt stream fails the iteration with an InvalidArgument naming the format.
 */
export async function decompressArchive(
  source: AsyncIterable<Uint8Array>,
): Promise<{ compression: ArchiveCompression; stream: AsyncIterable<Buffer> }> {
  const { head, stream } = await peek(source, 6);
  const compression = detectArchiveCompression(head);
  if (compression === 'none') return { compression, stream };
  const decoded = compression === 'gzip' || compression === 'zstd' ? zlibDecode(stream, compression) : programDecode(stream, compression);
  async function* checked(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of decoded) yield chunk as Buffer;
    } catch (err) {
      throw new InvalidArgument(`corrupt ${compression} data: ${(err as Error).message}`, { cause: err });
    }
  }
  return { compression, stream: checked() };
}

function zlibDecode(source: AsyncIterable<Buffer>, compression: 'gzip' | 'zstd'): AsyncIterable<Buffer> {
  const decoder = compression === 'gzip' ? zlib.createGunzip() : zlib.createZstdDecompress();
  pipeline(Readable.from(source, { objectMode: false }), decoder, () => {});
  return decoder;
}

async function* programDecode(source: AsyncIterable<Buffer>, compression: 'bzip2' | 'xz'): AsyncGenerator<Buffer> {
  const child = spawn(compression, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (err) => reject(new InvalidArgument(`cannot decompress ${compression}: ${err.message}`, { cause: err })));
    child.on('close', (code) => resolve(code));
  });
  exited.catch(() => {});
  pipeline(Readable.from(source, { objectMode: false }), child.stdin, () => {});
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const code = await exited;
    if (code !== 0) throw new Error(stderr.trim() || `${compression} exited with ${code}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
