import type { Socket } from 'node:net';
import { Conflict, type ContainerStreams, type ExitStatus, type OutputChunk, SystemError } from '@berth/core';
import { encodeFrame, FrameDecoder, maxFrame, StreamId } from './frames.js';
import { parseExitStatus } from './shim-state.js';

/** Output kept for the first subscriber when it arrives after the socket delivered some. */
const earlyOutputLimit = 1 << 20;

/**
 * A client connection to a container's shim, as the engine's ContainerStreams. Output
 * that arrives before anyone subscribes is held (up to 1 MiB) for the first listener,
 * so subscribing right after connect loses nothing. `onClose` fires once: when the shim
 * closes the socket (the container exited and exit.json is written), on a connection
 * error, or on `close()`.
 */
export class ShimConnection implements ContainerStreams {
  private readonly outputListeners = new Set<(chunk: OutputChunk) => void>();
  private readonly closeListeners: Array<() => void> = [];
  private readonly decoder = new FrameDecoder();
  private early: OutputChunk[] | null = [];
  private earlyBytes = 0;
  private closed = false;
  /** This side dropped the connection (close()): the shim did not end it. */
  private dropped = false;
  /** Control requests sent and not yet answered, oldest first (the shim answers in order). */
  private exitListener?: (status: ExitStatus) => void;
  private readonly pendingControl: Array<{ request: string; resolve: (reply: string) => void; reject: (err: Error) => void }> = [];

  /**
   * `leftover`: bytes already read from the socket after the shim's ready line (a direct
   * exec's first frames, on the socket its spawner read the line from).
   */
  constructor(
    private readonly socket: Socket,
    leftover?: Buffer,
  ) {
    if (leftover?.length) this.decoder.push(leftover, (stream, payload) => this.deliver(stream, payload));
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk, (stream, payload) => this.deliver(stream, payload)));
    socket.on('error', () => this.finish());
    socket.on('close', () => this.finish());
    // The shim's EOF: end ours too, so it can go (it waits for its clients to close). A
    // socket made from a descriptor (a direct exec's ready socket) does not do it itself.
    socket.on('end', () => socket.end());
    socket.resume(); // a socket handed over paused (the ready socket of a direct exec)
  }

  onOutput(listener: (chunk: OutputChunk) => void): () => void {
    this.outputListeners.add(listener);
    const early = this.early;
    this.early = null;
    if (early) for (const chunk of early) listener(chunk);
    return () => {
      this.outputListeners.delete(listener);
    };
  }

  onClose(listener: () => void): void {
    if (this.closed) queueMicrotask(listener);
    else this.closeListeners.push(listener);
  }

  writeStdin(data: Buffer): void {
    if (this.closed) return;
    for (let offset = 0; offset < data.length; offset += maxFrame) {
      this.socket.write(encodeFrame(StreamId.stdin, data.subarray(offset, offset + maxFrame)));
    }
  }

  closeStdin(): void {
    if (!this.closed) this.socket.write(encodeFrame(StreamId.stdin, Buffer.alloc(0)));
  }

  close(): void {
    this.dropped = true;
    this.socket.destroy();
    this.finish();
  }

  /** Whether the connection has ended (the shim finished, it failed, or this side dropped it). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether the connection ended because this side dropped it, not because the shim finished. */
  get droppedByClient(): boolean {
    return this.dropped;
  }

  /** The pty's window size (the shim's `resize <rows> <cols>`); rejects without a terminal. */
  async resize(height: number, width: number): Promise<void> {
    let reply: string;
    try {
      reply = await this.control(`resize ${Math.trunc(height)} ${Math.trunc(width)}`);
    } catch {
      // A resize that crosses the exit finds the shim finishing: it answers no more requests.
      throw new Conflict('cannot resize the terminal: the process has exited');
    }
    if (reply !== 'ok') throw new SystemError(`cannot resize the terminal: ${reply.replace(/^error: /, '')}`);
  }

  /**
   * The process part of a prepared direct exec's plan (`--process-later`), sent before
   * its `start` (the shim takes it once; one it refuses fails the start with the reason).
   */
  sendProcessPart(part: Buffer): void {
    if (!this.closed) this.socket.write(encodeFrame(StreamId.process, part));
  }

  /**
   * Send a control request (`start`, `resize`, `kill`) on this connection and resolve with the shim's
   * answer to it (`ok`, `error: ...`); rejects if the connection closes first.
   */
  control(request: string): Promise<string> {
    if (this.closed) return Promise.reject(new SystemError(`the shim connection is closed: cannot send "${request}"`));
    return new Promise((resolve, reject) => {
      this.pendingControl.push({ request, resolve, reject });
      this.socket.write(encodeFrame(StreamId.control, Buffer.from(request)));
    });
  }

  /** Call `listener` with an exec's exit record when the shim sends it (stream 4), once. */
  onExitRecord(listener: (status: ExitStatus) => void): void {
    this.exitListener = listener;
  }

  private deliver(stream: number, payload: Buffer): void {
    if (stream === StreamId.exit) {
      const status = parseExitStatus(payload.toString('utf8'));
      if (status) this.exitListener?.(status);
      return;
    }
    if (stream === StreamId.control) {
      this.pendingControl.shift()?.resolve(payload.toString('utf8'));
      return;
    }
    if (stream !== StreamId.stdout && stream !== StreamId.stderr) return;
    // The decoder hands out views of its buffer; listeners may keep chunks.
    const chunk: OutputChunk = { stream: stream === StreamId.stdout ? 'stdout' : 'stderr', data: Buffer.from(payload) };
    if (this.early) {
      if (this.earlyBytes + chunk.data.length <= earlyOutputLimit) {
        this.early.push(chunk);
        this.earlyBytes += chunk.data.length;
      }
      return;
    }
    for (const listener of this.outputListeners) listener(chunk);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pendingControl.splice(0))
      p.reject(new SystemError(`the shim closed the connection before answering "${p.request}"`));
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}
