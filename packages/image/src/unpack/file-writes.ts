import { type NewFile, writeNewFiles } from '@berth/native';

/** Files up to this size are read whole from the tar and written through the thread pool, several at once. */
export const concurrentFileMax = 256 << 10;
/** Files are handed to the thread pool in jobs of up to this many files... */
const batchFiles = 16;
/** ...or this many bytes: one wake-up of a pool thread per job, not per file. */
const batchBytes = 1 << 20;
/** Most jobs on the pool at once (libuv has 4 threads by default)... */
const maxJobs = 8;
/** ...and most bytes queued and in flight. */
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
 * the unpacker waited for each (`open` was half of a 2 GiB, 86k-file layer). Files are
 * made on libuv's thread pool by @berth/native's `writeNewFiles` (open O_EXCL|O_NOFOLLOW,
 * write, fchown, fchmod, futimens, close back to back), up to 16 files or 1 MiB per job:
 * as six calls per file from Node they were six round trips, and waking a pool thread
 * per file cost the main thread more than the kernel's work. The kernel work of several
 * jobs overlaps, and overlaps the reading, hashing and parsing of the tar on the main
 * thread.
 *
 * Only a path nothing occupies is written this way (the caller checked, and no other
 * write of that path is queued or in flight: `pending`); anything that could depend on
 * a file not yet written (a hardlink to it, a replacement of it, a whiteout, the end of
 * the layer) first waits for `drain()`, which also hands over a partial job. Bounded: at
 * most 8 jobs and 32 MiB queued and in flight, `add` waits for room. A failure stops the
 * rest of its job and is reported by the next `add` or `drain`, naming the entry.
 *
 * Lifecycle: one per applyLayer; `add` as files come, `drain` before anything that must
 * see them, and at the end (also after a failure, so nothing is left running).
 */
export class ConcurrentFileWrites {
  /** Paths queued or being written. */
  private readonly paths = new Set<string>();
  /** Jobs on the thread pool. */
  private readonly jobs = new Set<Promise<void>>();
  /** Files waiting to be handed to the pool as one job. */
  private batch: SmallFile[] = [];
  private batchBytes = 0;
  /** Bytes held by queued and in-flight files. */
  private bytes = 0;
  private failure: unknown;

  /** Whether a write of `abs` is queued or in flight. */
  pending(abs: string): boolean {
    return this.paths.has(abs);
  }

  /** Files queued or in flight. */
  get size(): number {
    return this.paths.size;
  }

  /** Queue `file`; resolves once it is (waiting for room first). */
  async add(file: SmallFile): Promise<void> {
    this.throwFailure();
    while (this.jobs.size >= maxJobs || (this.bytes + file.size > maxInFlightBytes && this.jobs.size > 0)) {
      await Promise.race(this.jobs);
      this.throwFailure();
    }
    this.paths.add(file.abs);
    this.bytes += file.size;
    this.batch.push(file);
    this.batchBytes += file.size;
    if (this.batch.length >= batchFiles || this.batchBytes >= batchBytes) this.flush();
  }

  /** Hand the queued files to the pool now. */
  flush(): void {
    if (this.batch.length === 0) return;
    const files = this.batch;
    const held = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    const done = (err?: unknown) => {
      for (const f of files) this.paths.delete(f.abs);
      this.bytes -= held;
      this.jobs.delete(job);
      if (err !== undefined) {
        // The error names the path that failed; report it by its tar entry.
        const path = (err as { path?: string }).path;
        const entry = files.find((f) => f.abs === path)?.entry ?? files[0]!.entry;
        this.failure ??= Object.assign(err as Error, { entry });
      }
    };
    let job: Promise<void>;
    try {
      job = writeNewFiles(files.map(newFile)).then(() => done(), done);
    } catch (err) {
      job = Promise.resolve();
      done(err);
      return;
    }
    this.jobs.add(job);
  }

  /** Write everything queued and wait for every write in flight; throws the first failure. */
  async drain(): Promise<void> {
    this.flush();
    while (this.jobs.size > 0) await Promise.all(this.jobs);
    this.throwFailure();
  }

  private throwFailure(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

function newFile(file: SmallFile): NewFile {
  return {
    path: file.abs,
    chunks: file.chunks,
    mode: file.mode,
    uid: file.uid,
    gid: file.gid,
    chown: file.chown,
    atime: file.atime,
    mtime: file.mtime,
  };
}
