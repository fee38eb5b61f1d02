import type { IncomingMessage } from 'node:http';

interface Watched {
  bytesRead: number;
  idleSince: number;
  onStall(): void;
}

/**
 * Notices uploads that stall: a request whose body is not complete and whose client has
 * sent nothing for `idleMs` while the server was waiting for it. Only idleness counts,
 * so a multi-gigabyte `docker load` at any steady pace is never cut, and neither is one
 * the server itself is slow to read (the request's buffer is full: the engine is busy).
 *
 * Lifecycle: `watch(req, onStall)` when a request arrives (one with no body, or whose
 * body completes, is dropped at the next check); `onStall` runs at most once; `close()`
 * stops the timer. One interval serves every request, and runs only while some are watched.
 */
export class BodyIdleWatch {
  private readonly watched = new Map<IncomingMessage, Watched>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly idleMs: number) {}

  watch(req: IncomingMessage, onStall: () => void): void {
    this.watched.set(req, { bytesRead: req.socket?.bytesRead ?? 0, idleSince: Date.now(), onStall });
    if (!this.timer) {
      // A quarter of the limit between checks: a stall is noticed at most 25% late.
      this.timer = setInterval(() => this.check(), Math.max(100, Math.min(1000, this.idleMs / 4)));
      this.timer.unref();
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }

  private check(): void {
    const now = Date.now();
    for (const [req, w] of this.watched) {
      if (req.complete || req.destroyed || !req.socket || req.socket.destroyed) {
        this.watched.delete(req);
        continue;
      }
      const bytesRead = req.socket.bytesRead;
      // A full buffer means the server stopped reading (back-pressure), not that the client stopped sending.
      const waitingForClient = req.readableLength < req.readableHighWaterMark;
      if (bytesRead !== w.bytesRead || !waitingForClient) {
        w.bytesRead = bytesRead;
        w.idleSince = now;
        continue;
      }
      if (now - w.idleSince >= this.idleMs) {
        this.watched.delete(req);
        w.onStall();
      }
    }
    if (this.watched.size === 0) this.close();
  }
}
