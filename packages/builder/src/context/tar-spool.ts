import { createReadStream, promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';

/** Contexts up to this size stay in memory; a bigger one goes to its file as it arrives. */
const memoryLimit = 32 << 20;

/**
 * The bytes of a context's tar, kept until a step needs the files (`ContextIndex`): in
 * memory while they are few (a cached rebuild of a small context then touches no file
 * for it), in `file` from the moment they pass `memoryLimit`.
 *
 * Lifecycle: `write` each chunk as it arrives, `end()` once, then `open()` as often as
 * the context is unpacked; `dispose()` lets go of the memory (the file goes with its
 * directory).
 */
export class TarSpool {
  private chunks: Buffer[] | undefined = [];
  private size = 0;
  private handle: fsp.FileHandle | undefined;
  private spilled = false;

  constructor(private readonly file: string) {}

  async write(chunk: Buffer): Promise<void> {
    if (!this.spilled && this.size + chunk.length <= memoryLimit) {
      this.chunks!.push(chunk);
      this.size += chunk.length;
      return;
    }
    if (!this.spilled) {
      this.handle = await fsp.open(this.file, 'wx', 0o600);
      for (const held of this.chunks!) await this.handle.write(held);
      this.chunks = undefined;
      this.spilled = true;
    }
    await this.handle!.write(chunk);
  }

  async end(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }

  /** The tar from its first byte. */
  open(): AsyncIterable<Buffer> {
    if (this.spilled) return createReadStream(this.file);
    return Readable.from(this.chunks ?? []);
  }

  dispose(): void {
    this.chunks = undefined;
  }
}
