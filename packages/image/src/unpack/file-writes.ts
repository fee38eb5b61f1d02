import { writeNewFile } from '@berth/native';

/** Files up to this size are read whole from the tar and written through the thread pool, several at once. */
export const concurrentFileMax = 256 << 10;
/** Most files being written at once... */
const maxInFlight = 32;
/** ...and most bytes they hold. */
const maxInFlightBytes = 32 << 20;

/** What one file needs once its bytes are in memory. */
export interface SmallFile {
  abs: string;
  /** The body, as the tar reader handed it (slices of its input, not copies). */
  chunks: Buffer[];
  size: number;
  mode: number;
  uid: number;
  gid: number;
  atime: Date;
  mtime: Date;
  /** Set the owner (`sameOwner`). */
  chown: boolean;
  /** The tar entry, for the message of a failure. */
  entry: string;
}

/**
 * Writes small new files of a layer concurrently: creating a file is a system call the
 * kernel takes tens to hundreds of microseconds over on a busy disk, and one at a time
 * the unpacker waited for each (`open` was half of a 2 GiB, 86k-file layer). Each file
 * is made by one job on libuv's thread pool (@berth/native's `writeNewFile`: open
 * O_EXCL|O_NOFOLLOW, write, fchown, fchmod, futimens, close back to back; as six calls
 * from Node they were six round trips, more than the kernel's work), so the kernel work
 * of several files overlaps, and overlaps the reading, hashing and parsing of the tar
 * on the main thread.
 *
 * Only a path nothing occupies is written this way (the caller checked, and no other
 * write of that path is in flight: `pending`); anything that could depend on a file in
 * flight (a hardlink to it, a replacement of it, a whiteout, the end of the layer)
 * first waits for `drain()`. Bounded: at most 32 files and 32 MiB in flight, `add` waits
 * for room. A failure is reported by the next `add` or `drain`, naming the entry.
 *
 * Lifecycle: one per applyLayer; `add` as files come, `drain` before anything that must
 * see them, and at the end (also after a failure, so nothing is left running).
 */
export class ConcurrentFileWrites {
  private readonly inFlight = new Map<string, Promise<void>>();
  private bytes = 0;
  private failure: unknown;

  /** Whether a write of `abs` is in flight. */
  pending(abs: string): boolean {
    return this.inFlight.has(abs);
  }

  get size(): number {
    return this.inFlight.size;
  }

  /** Start writing `file`; resolves once it is under way (waiting for room first). */
  async add(file: SmallFile): Promise<void> {
    this.throwFailure();
    while (this.inFlight.size >= maxInFlight || (this.bytes + file.size > maxInFlightBytes && this.inFlight.size > 0)) {
      await Promise.race(this.inFlight.values());
      this.throwFailure();
    }
    this.bytes += file.size;
    const done = writeSmallFile(file).then(
      () => {
        this.bytes -= file.size;
        this.inFlight.delete(file.abs);
      },
      (err: unknown) => {
        this.bytes -= file.size;
        this.inFlight.delete(file.abs);
        this.failure ??= Object.assign(err as Error, { entry: file.entry });
      },
    );
    this.inFlight.set(file.abs, done);
  }

  /** Wait for every write in flight; throws the first failure. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight.values());
    this.throwFailure();
  }

  private throwFailure(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

function writeSmallFile(file: SmallFile): Promise<void> {
  return writeNewFile(file.abs, file.chunks, {
    mode: file.mode,
    uid: file.uid,
    gid: file.gid,
    chown: file.chown,
    atime: file.atime,
    mtime: file.mtime,
  });
}
