import type {
  ContainerCreateBody,
  ContainerInspect,
  ContainerStatsSample,
  ContainerSummary,
  ContainersPruneReport,
  ContainerTop,
  ContainerUpdate,
  ContainerUpdateResult,
  Filters,
  WaitCondition,
  WaitResult,
} from '@berth/core';
import { Attachment } from './attachment.js';
import { FrameDemuxer } from './frames.js';
import type { Response } from './http1.js';
import { readJsonStream } from './json-stream.js';
import { containerPath, encodeFilters } from './query.js';
import { readBody, type Transport } from './transport.js';

export interface ListContainersOptions {
  all?: boolean;
  /** e.g. `{ name: ['web'], status: ['exited'] }` */
  filters?: Filters;
  limit?: number;
  size?: boolean;
}

export interface RemoveOptions {
  force?: boolean;
  /** Remove the container's anonymous volumes too. */
  v?: boolean;
}

export interface AttachRequest {
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Stream live output (default true). */
  stream?: boolean;
  /** Replay the log first. */
  logs?: boolean;
  /** Whether the container has a tty; looked up with inspect when not given. */
  tty?: boolean;
  /** The detach sequence (`ctrl-p,ctrl-q` unless given); the daemon watches stdin for it. */
  detachKeys?: string;
}

export interface LogsRequest {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Unix seconds (`"1795378306.5"` or a number), or what the daemon accepts. */
  since?: string | number;
  until?: string | number;
  timestamps?: boolean;
  /** Lines from the end, or `'all'` (the default). */
  tail?: number | 'all';
  /** Whether the container has a tty (raw log); looked up with inspect when not given. */
  tty?: boolean;
  signal?: AbortSignal;
}

/** Where `logs` writes: each target is written to, never ended. */
export interface LogSinks {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/**
 * A `wait` whose request the daemon has already accepted (its response headers came
 * back). `result` resolves with the daemon's `{StatusCode, Error}` when the condition
 * holds; `cancel` abandons it.
 */
export interface WaitHandle {
  readonly result: Promise<WaitResult>;
  cancel(): void;
}

/** `/containers/…` endpoints. */
export class ContainersClient {
  constructor(private readonly http: Transport) {}

  create(body: ContainerCreateBody, name?: string): Promise<{ Id: string; Warnings: string[] | null }> {
    return this.http.json('POST', '/containers/create', { query: { name }, json: body });
  }

  start(id: string): Promise<void> {
    return this.http.call('POST', `/containers/${containerPath(id)}/start`);
  }

  /** `t`: seconds before SIGKILL (the daemon's default when not given). */
  stop(id: string, t?: number, signal?: string): Promise<void> {
    return this.http.call('POST', `/containers/${containerPath(id)}/stop`, { query: { t, signal } });
  }

  kill(id: string, signal?: string): Promise<void> {
    return this.http.call('POST', `/containers/${containerPath(id)}/kill`, { query: { signal } });
  }

  remove(id: string, options: RemoveOptions = {}): Promise<void> {
    return this.http.call('DELETE', `/containers/${containerPath(id)}`, { query: { force: options.force, v: options.v } });
  }

  list(options: ListContainersOptions = {}): Promise<ContainerSummary[]> {
    return this.http.json('GET', '/containers/json', {
      query: {
        all: options.all,
        limit: options.limit !== undefined && options.limit > 0 ? options.limit : undefined,
        size: options.size,
        filters: encodeFilters(options.filters),
      },
    });
  }

  inspect(id: string): Promise<ContainerInspect> {
    return this.http.json('GET', `/containers/${containerPath(id)}/json`);
  }

  pause(id: string): Promise<void> {
    return this.http.call('POST', `/containers/${containerPath(id)}/pause`);
  }

  unpause(id: string): Promise<void> {
    return this.http.call('POST', `/containers/${containerPath(id)}/unpause`);
  }

  rename(id: string, name: string): Promise<void> {
    return this.http.call('POST', `/containers/${containerPath(id)}/rename`, { query: { name } });
  }

  update(id: string, changes: ContainerUpdate): Promise<ContainerUpdateResult> {
    return this.http.json('POST', `/containers/${containerPath(id)}/update`, { json: changes });
  }

  top(id: string, psArgs?: string): Promise<ContainerTop> {
    return this.http.json('GET', `/containers/${containerPath(id)}/top`, { query: { ps_args: psArgs } });
  }

  /**
   * One stats sample (`stream=0`, spelled out as the docker CLI does: a false query value
   * is left out, and the daemon's default is a stream), with the daemon's short CPU interval.
   */
  statsOnce(id: string): Promise<ContainerStatsSample> {
    return this.http.json('GET', `/containers/${containerPath(id)}/stats`, { query: { stream: '0' } });
  }

  /**
   * The stream of a container's samples (`stream=true`: one a second while it runs), each
   * handed to `onSample` as it arrives. Resolves when the daemon ends the stream (the
   * container stopped) or `signal` aborts it; rejects with the daemon's error (an unknown
   * container: 404) before the first sample.
   */
  async stats(id: string, onSample: (sample: ContainerStatsSample) => void, signal?: AbortSignal): Promise<void> {
    let res: Response;
    try {
      res = await this.http.request('GET', `/containers/${containerPath(id)}/stats`, { query: { stream: true }, signal });
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
    await readJsonStream(res, onSample, signal);
  }

  /** The terminal size of a container with a tty, in rows (`h`) and columns (`w`). */
  resize(id: string, height: number, width: number): Promise<void> {
    return this.http.call('POST', `/containers/${containerPath(id)}/resize`, { query: { h: height, w: width } });
  }

  prune(filters?: Record<string, string[]>): Promise<ContainersPruneReport> {
    return this.http.json('POST', '/containers/prune', { query: { filters: encodeFilters(filters) } });
  }

  /**
   * Sends `wait` and resolves once the daemon accepted it (headers received), so a caller
   * that awaits this before `start` cannot miss a fast exit.
   */
  async waitHandle(id: string, condition?: WaitCondition): Promise<WaitHandle> {
    const controller = new AbortController();
    const res = await this.http.request('POST', `/containers/${containerPath(id)}/wait`, {
      query: { condition },
      signal: controller.signal,
    });
    const result = readBody(res).then((body) => parseWaitResult(body));
    result.catch(() => {});
    return {
      result,
      cancel: () => {
        controller.abort();
        res.destroy();
      },
    };
  }

  /** Waits for the condition (default `not-running`) and returns the exit status. */
  async wait(id: string, condition?: WaitCondition): Promise<WaitResult> {
    return (await this.waitHandle(id, condition)).result;
  }

  /**
   * Attaches to the container's stdio over a hijacked connection; resolves once the daemon
   * switched protocols. Without `stdin`, the write side is half-closed at once, as the docker
   * CLI does, so the daemon knows no input will come.
   */
  async attach(id: string, options: AttachRequest = {}): Promise<Attachment> {
    const tty = options.tty ?? (await this.inspect(id)).Config?.Tty === true;
    const conn = await this.http.hijack('POST', `/containers/${containerPath(id)}/attach`, {
      query: {
        logs: options.logs,
        stream: options.stream ?? true,
        stdin: options.stdin,
        stdout: options.stdout ?? true,
        stderr: options.stderr ?? true,
        detachKeys: options.detachKeys,
      },
    });
    const attachment = new Attachment(conn, tty);
    if (!options.stdin) attachment.closeStdin();
    return attachment;
  }

  /**
   * Streams the container's log into `sinks` (split by stream unless the container has a
   * tty) and resolves at the end of the log, or, with `follow`, when the container stops.
   */
  async logs(id: string, options: LogsRequest, sinks: LogSinks): Promise<void> {
    const tty = options.tty ?? (await this.inspect(id)).Config?.Tty === true;
    const wantOut = options.stdout ?? true;
    const wantErr = options.stderr ?? true;
    const res = await this.http.request('GET', `/containers/${containerPath(id)}/logs`, {
      query: {
        follow: options.follow,
        stdout: wantOut,
        stderr: wantErr,
        since: options.since,
        until: options.until,
        timestamps: options.timestamps,
        tail: options.tail ?? 'all',
      },
      signal: options.signal,
    });
    await copyLog(res, tty, sinks);
  }
}

function parseWaitResult(body: Buffer): WaitResult {
  const parsed = JSON.parse(body.toString('utf8')) as Partial<WaitResult> & { Error?: { Message?: string } | null };
  return {
    StatusCode: typeof parsed.StatusCode === 'number' ? parsed.StatusCode : -1,
    Error: parsed.Error?.Message ? { Message: parsed.Error.Message } : null,
  };
}

/** Copies a log body to the sinks with backpressure, demultiplexing unless tty. */
function copyLog(res: Response, tty: boolean, sinks: LogSinks): Promise<void> {
  return new Promise((resolve, reject) => {
    const write = (target: NodeJS.WritableStream | undefined, data: Buffer): void => {
      if (!target || target.write(data)) return;
      res.pause();
      target.once('drain', () => res.resume());
    };
    const demux = tty ? null : new FrameDemuxer((stream, data) => write(stream === 2 || stream === 3 ? sinks.stderr : sinks.stdout, data));
    res.on('data', (chunk: Buffer) => {
      if (!demux) return write(sinks.stdout, chunk);
      try {
        demux.push(chunk);
      } catch (err) {
        res.destroy(err as Error);
      }
    });
    res.on('end', resolve);
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new Error('the log stream was cut short'));
    });
  });
}
