import { PassThrough } from 'node:stream';
import { FrameDemuxer } from './frames.js';
import type { HijackedStream } from './transport.js';

type Sink = (stream: 1 | 2, data: Buffer) => NodeJS.WritableStream | null;

/**
 * A live attachment to a container's stdio over a hijacked connection. It is made before
 * the container starts (attach, then start), so no output is lost: bytes wait in the
 * socket until the output is consumed, either with `forward(stdout, stderr)` (written in
 * arrival order, with backpressure) or through the `stdout` / `stderr` streams. Output is
 * demultiplexed from frames, or, with a tty, all raw on stdout.
 *
 * `done` settles when the daemon closes the connection, which it does once the process
 * exited and its output was drained (only after the output is consumed). It rejects if the
 * stream broke or was not framed as expected; it resolves after `close()` (detach).
 */
export class Attachment {
  readonly done: Promise<void>;
  private sink: Sink | null = null;
  private streams: { stdout: PassThrough; stderr: PassThrough } | null = null;
  private detached = false;
  private paused = false;
  private finished = false;
  private failure: Error | undefined;
  private readonly demux: FrameDemuxer | null;

  constructor(
    private readonly conn: HijackedStream,
    /** Whether the container has a tty: raw output instead of frames. */
    readonly tty: boolean,
  ) {
    this.demux = tty ? null : new FrameDemuxer((stream, data) => this.deliver(stream === 2 || stream === 3 ? 2 : 1, data));
    this.done = new Promise<void>((resolve, reject) => {
      conn.output.on('error', (err) => this.fail(err));
      conn.output.on('close', () => {
        this.finished = true;
        this.streams?.stdout.end();
        this.streams?.stderr.end();
        if (this.failure && !this.detached) reject(this.failure);
        else resolve();
      });
    });
    // Callers may look at `done` only after other awaits; its rejection must not count as unhandled meanwhile.
    this.done.catch(() => {});
  }

  /** The container's stdout (with a tty: everything). Consuming it starts reading the connection. */
  get stdout(): PassThrough {
    return this.passThroughs().stdout;
  }

  /** The container's stderr (empty with a tty). */
  get stderr(): PassThrough {
    return this.passThroughs().stderr;
  }

  /**
   * Writes the output to `stdout` and `stderr` (never ended) as it arrives, in order, and
   * resolves when the connection closed and everything was handed over.
   */
  forward(stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream = stdout): Promise<void> {
    this.consume((stream, data) => {
      const target = stream === 2 ? stderr : stdout;
      return target.write(data) ? null : target;
    });
    return this.done;
  }

  /** Sends bytes to the container's stdin (needs `stdin: true` at attach). */
  write(data: Buffer | string): boolean {
    return this.conn.input ? this.conn.input.write(data) : false;
  }

  /** Half-closes the connection: the container sees end of file on stdin; output keeps coming. */
  closeStdin(): void {
    this.conn.input?.end();
  }

  /** Leaves the container running and drops the connection (Docker's detach). */
  close(): void {
    this.detached = true;
    this.conn.destroy();
  }

  private passThroughs(): { stdout: PassThrough; stderr: PassThrough } {
    if (this.streams) return this.streams;
    const streams = { stdout: new PassThrough(), stderr: new PassThrough() };
    this.streams = streams;
    if (this.finished) {
      streams.stdout.end();
      streams.stderr.end();
    }
    this.consume((stream, data) => {
      const target = stream === 2 ? streams.stderr : streams.stdout;
      // Only a stream someone reads can push back; an unread one buffers.
      return target.write(data) || target.readableFlowing !== true ? null : target;
    });
    return streams;
  }

  private consume(sink: Sink): void {
    if (this.sink) throw new Error('the attachment output is already being consumed');
    this.sink = sink;
    try {
      if (this.conn.head.length) this.feed(this.conn.head);
    } catch (err) {
      this.fail(err as Error);
    }
    this.conn.output.on('data', (chunk: Buffer) => {
      try {
        this.feed(chunk);
      } catch (err) {
        this.fail(err as Error);
      }
    });
  }

  private feed(chunk: Buffer): void {
    if (this.demux) this.demux.push(chunk);
    else this.deliver(1, chunk);
  }

  private deliver(stream: 1 | 2, data: Buffer): void {
    const full = this.sink!(stream, data);
    if (!full || this.paused) return;
    this.paused = true;
    this.conn.output.pause();
    full.once('drain', () => {
      this.paused = false;
      this.conn.output.resume();
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.conn.destroy();
  }
}
