import { InvalidArgument, isBerthError } from '@berth/core';
import { applyLayer, peek } from '@berth/image';
import { setXattr } from '@berth/native';
import { decompressArchive, notATar, startsTar } from './archive-stream.js';

/** What `unpackArchive` found in a stream. */
export type UnpackOutcome = { kind: 'tar'; entries: number } | { kind: 'not-tar'; content: Buffer };

/** Largest non-tar body kept in memory when `allowNotTar` asks for it (a Dockerfile). */
const maxPlainBytes = 16 << 20;

/**
 * Unpack a tar stream (plain, gzip, bzip2, xz or zstd) into the directory `dir` with
 * `@berth/image`'s `applyLayer`, the checks every layer gets: `..` in names, writing
 * through a symlink that leaves `dir`, hardlinks to missing files or directories, names
 * longer than the kernel takes, malformed headers and a stream that goes on past its
 * end are refused with an InvalidArgument naming the entry; `.wh.` names are plain files
 * here (`whiteouts: false`); device nodes are refused (a build context or an ADD archive
 * has no use for them). Owners, modes, mtimes and xattrs are kept.
 *
 * `allowNotTar`: a plain (uncompressed) stream whose first block is not a tar header is
 * returned whole instead of refused (a remote Dockerfile, an ADD source that is just a file).
 * What was unpacked before a refusal stays in `dir`: the caller removes `dir`.
 */
export async function unpackArchive(
  dir: string,
  source: AsyncIterable<Uint8Array>,
  what: string,
  allowNotTar = false,
): Promise<UnpackOutcome> {
  const { compression, stream } = await decompressArchive(source);
  const { head, stream: replay, cancel } = await peek(stream, 1024);
  if (!startsTar(head)) {
    if (allowNotTar && compression === 'none') {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of replay) {
        size += chunk.length;
        if (size > maxPlainBytes) throw new InvalidArgument(`${what} is larger than ${maxPlainBytes} bytes and not a tar archive`);
        chunks.push(chunk);
      }
      return { kind: 'not-tar', content: Buffer.concat(chunks, size) };
    }
    // Read nothing more: the source (a request, a download) is closed with the error.
    await cancel();
    throw notATar(what, head, compression);
  }
  try {
    const result = await applyLayer(dir, replay, {
      whiteouts: false,
      allowDevices: false,
      setXattr: async (file, name, value) => setXattr(file, name, value),
    });
    return { kind: 'tar', entries: result.entries };
  } catch (err) {
    if (isBerthError(err, 'InvalidArgument')) {
      throw new InvalidArgument(`${what}: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
}
