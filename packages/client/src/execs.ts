import type { ExecCreateBody, ExecInspect } from '@berth/core';
import { Attachment } from './attachment.js';
import { containerPath } from './query.js';
import type { Transport } from './transport.js';

/** Options of `exec start`: Docker's `{Detach, Tty}` body, and whether stdin is sent. */
export interface ExecStartRequest {
  /** Whether the exec has a terminal (raw output rather than frames); must match its create body. */
  tty?: boolean;
  /** Whether the caller will write stdin; without it the connection is half-closed at once. */
  stdin?: boolean;
}

/**
 * `docker exec`'s endpoints: `POST /containers/{id}/exec` (create), `POST /exec/{id}/start`
 * (hijacked, like attach, or detached), `GET /exec/{id}/json` (the exit code once it ended)
 * and `POST /exec/{id}/resize` (the terminal size).
 */
export class ExecsClient {
  constructor(private readonly http: Transport) {}

  create(container: string, body: ExecCreateBody): Promise<{ Id: string }> {
    return this.http.json('POST', `/containers/${containerPath(container)}/exec`, { json: body });
  }

  /**
   * Starts the exec attached: resolves with its stdio once the daemon switched protocols
   * (a process that cannot run is reported on the stream, then by `inspect`'s ExitCode).
   */
  async start(id: string, options: ExecStartRequest = {}): Promise<Attachment> {
    const tty = options.tty === true;
    const conn = await this.http.hijack('POST', `/exec/${encodeURIComponent(id)}/start`, { json: { Detach: false, Tty: tty } });
    const attachment = new Attachment(conn, tty);
    if (!options.stdin) attachment.closeStdin();
    return attachment;
  }

  /** `docker exec -d`: resolves once the process runs. */
  startDetached(id: string, tty = false): Promise<void> {
    return this.http.call('POST', `/exec/${encodeURIComponent(id)}/start`, { json: { Detach: true, Tty: tty } });
  }

  inspect(id: string): Promise<ExecInspect> {
    return this.http.json('GET', `/exec/${encodeURIComponent(id)}/json`);
  }

  /** The exec's terminal size in rows (`h`) and columns (`w`). */
  resize(id: string, height: number, width: number): Promise<void> {
    return this.http.call('POST', `/exec/${encodeURIComponent(id)}/resize`, { query: { h: height, w: width } });
  }
}
