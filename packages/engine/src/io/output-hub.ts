import type { AttachSession, ContainerStreams } from '@berth/core';

type OutputListener = (stream: 'stdout' | 'stderr', data: Buffer) => void;

/**
 * Fans one container's output out to its attach sessions. Sessions may attach before
 * the container starts (the docker CLI attaches, then starts): they subscribe here
 * and receive everything from the first byte. When a run ends, every session of that
 * run ends; the hub itself lives as long as the container, across restarts.
 */
export class OutputHub {
  private readonly listeners = new Set<OutputListener>();
  private readonly enders = new Set<() => void>();
  private streams: ContainerStreams | undefined;
  private runEnded: Promise<void> = Promise.resolve();
  private resolveRunEnded: () => void = () => {};
  /** Stdin a session wrote before the run connected (the docker CLI writes it before start). */
  private pendingStdin: Buffer[] = [];
  private pendingStdinClose = false;

  /** Connect a run's streams: output flows to the sessions until the streams close. */
  connect(streams: ContainerStreams): void {
    this.streams = streams;
    this.runEnded = new Promise((resolve) => (this.resolveRunEnded = resolve));
    for (const data of this.pendingStdin) streams.writeStdin(data);
    if (this.pendingStdinClose) streams.closeStdin();
    this.pendingStdin = [];
    this.pendingStdinClose = false;
    streams.onOutput((chunk) => {
      for (const l of this.listeners) l(chunk.stream, chunk.data);
    });
    streams.onClose(() => this.endRun());
  }

  /** Drop the connection to the run's streams (the engine is closing); the container runs on. */
  disconnect(): void {
    this.streams?.close();
  }

  /**
   * Resolves when the current run's streams have closed (all its output delivered), or
   * after `timeoutMs`; at once when no run is connected. The runtime reports an exit on
   * another connection than the output's, and the two closes may be seen in either
   * order: the exit must not end the sessions while output is still on its way.
   */
  async outputDone(timeoutMs: number): Promise<void> {
    if (!this.streams) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.runEnded, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Resize the terminal of the connected run (none connected: nothing to do). */
  async resize(height: number, width: number): Promise<void> {
    await this.streams?.resize(height, width);
  }

  /** End every session of the current run (the container exited). */
  endRun(): void {
    this.resolveRunEnded();
    this.streams = undefined;
    const enders = [...this.enders];
    this.enders.clear();
    for (const end of enders) end();
  }

  /** A new session; `stdin` says whether it may write to the container's stdin. */
  session(tty: boolean, stdin: boolean): AttachSession {
    let resolveEnded!: () => void;
    const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
    const mine = new Set<OutputListener>();
    let closed = false;
    const end = () => {
      if (closed) return;
      closed = true;
      for (const l of mine) this.listeners.delete(l);
      this.enders.delete(end);
      resolveEnded();
    };
    this.enders.add(end);
    return {
      tty,
      ended,
      onOutput: (listener) => {
        mine.add(listener);
        this.listeners.add(listener);
        return () => {
          mine.delete(listener);
          this.listeners.delete(listener);
        };
      },
      writeStdin: (data) => {
        if (!stdin) return;
        if (this.streams) this.streams.writeStdin(data);
        else this.pendingStdin.push(data);
      },
      closeStdin: () => {
        if (!stdin) return;
        if (this.streams) this.streams.closeStdin();
        else this.pendingStdinClose = true;
      },
      detach: end,
    };
  }
}
