import type { AttachSession, ContainerStreams } from '@berth/core';

type OutputListener = (stream: 'stdout' | 'stderr', data: Buffer) => void;

/**
 * The attached stream of one exec: its process's output, held until the API subscribes
 * (the process may write before the hijack answer is out), and its stdin when it was
 * created with AttachStdin. It ends when the service says the exit is recorded (`end`),
 * so a client that inspects the exec once the stream closed reads its ExitCode; a detach
 * leaves the process running.
 */
export class ExecSession implements AttachSession {
  readonly ended: Promise<void>;
  private readonly listeners = new Set<OutputListener>();
  private held: Array<[stream: 'stdout' | 'stderr', data: Buffer]> | null = [];
  private resolveEnded!: () => void;
  private over = false;

  constructor(
    readonly tty: boolean,
    private readonly stdin: boolean,
    private readonly streams: ContainerStreams,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    streams.onOutput((chunk) => this.emit(chunk.stream, chunk.data));
  }

  onOutput(listener: OutputListener): () => void {
    this.listeners.add(listener);
    const held = this.held;
    this.held = null;
    for (const [stream, data] of held ?? []) listener(stream, data);
    return () => this.listeners.delete(listener);
  }

  writeStdin(data: Buffer): void {
    if (this.stdin && !this.over) this.streams.writeStdin(data);
  }

  closeStdin(): void {
    if (this.stdin && !this.over) this.streams.closeStdin();
  }

  /** Leave the process running and stop receiving its output. */
  detach(): void {
    this.end();
  }

  /** The runtime could not run the process: its message is the output (as dockerd writes it), then the end. */
  fail(message: string): void {
    this.emit('stdout', Buffer.from(`${message}\r\n`));
    this.end();
  }

  /** The exit is recorded (or the session detached): end the stream. */
  end(): void {
    if (this.over) return;
    this.over = true;
    this.resolveEnded();
  }

  private emit(stream: 'stdout' | 'stderr', data: Buffer): void {
    if (this.over) return;
    if (this.held) this.held.push([stream, data]);
    else for (const l of this.listeners) l(stream, data);
  }
}
