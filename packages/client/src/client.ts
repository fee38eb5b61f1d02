import type { DiskUsage, Filters, PluginStatus, SystemInfo, VersionInfo } from '@berth/core';
import { ContainersClient } from './containers.js';
import { ExecsClient } from './execs.js';
import { hostUrl, resolveSocketPath } from './host.js';
import { ImagesClient } from './images.js';
import { readJsonStream } from './json-stream.js';
import { NetworksClient } from './networks.js';
import { encodeFilters } from './query.js';
import { readBody, Transport } from './transport.js';
import { VolumesClient } from './volumes.js';

export interface ClientOptions {
  /** `unix:///path` or a socket path; else `BERTH_HOST`, `DOCKER_HOST`, `/run/berth/berth.sock`. */
  host?: string;
  /** Environment to read `BERTH_HOST` / `DOCKER_HOST` from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** API version of the paths (`/v1.41/...`); default 1.41. */
  apiVersion?: string;
  userAgent?: string;
}

/** What `GET /_ping` tells: the daemon is up, and which API version it speaks. */
export interface PingResult {
  apiVersion: string | undefined;
  osType: string | undefined;
}

/** One object of `/events`, as the daemon writes it (docs/docker-api.md §5). */
export interface DaemonEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: string;
  time: number;
  timeNano: number;
  /** Nanoseconds since the epoch, exact (the JSON number, read as a number, is rounded). */
  timeNanoExact: bigint;
  /** Legacy fields of container and image events. */
  status?: string;
  id?: string;
  from?: string;
}

/**
 * A typed client of berthd (or any Docker Engine API 1.41 daemon) over its UNIX socket.
 * Cheap to make: nothing connects until the first call; plain calls share keep-alive
 * connections, hijacked streams and long waits get their own. Call `close()` when done
 * so idle connections do not keep a process alive.
 */
export class BerthClient {
  readonly socketPath: string;
  readonly containers: ContainersClient;
  readonly images: ImagesClient;
  readonly execs: ExecsClient;
  readonly networks: NetworksClient;
  readonly volumes: VolumesClient;
  private readonly http: Transport;

  constructor(options: ClientOptions = {}) {
    this.socketPath = resolveSocketPath(options.host, options.env);
    this.http = new Transport(this.socketPath, options.apiVersion, options.userAgent);
    this.containers = new ContainersClient(this.http);
    this.images = new ImagesClient(this.http);
    this.execs = new ExecsClient(this.http);
    this.networks = new NetworksClient(this.http);
    this.volumes = new VolumesClient(this.http);
  }

  /** `unix:///run/berth/berth.sock`, as messages show it. */
  get host(): string {
    return hostUrl(this.socketPath);
  }

  get apiVersion(): string {
    return this.http.apiVersion;
  }

  async ping(): Promise<PingResult> {
    const res = await this.http.request('GET', '/_ping');
    await readBody(res);
    const header = (name: string): string | undefined => {
      const v = res.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    return { apiVersion: header('api-version'), osType: header('ostype') };
  }

  version(): Promise<VersionInfo> {
    return this.http.json('GET', '/version');
  }

  info(): Promise<SystemInfo> {
    return this.http.json('GET', '/info');
  }

  /** `GET /system/df`: images, containers (with sizes), volumes and build cache. */
  diskUsage(): Promise<DiskUsage> {
    return this.http.json('GET', '/system/df');
  }

  /** `POST /auth` (docker login): the daemon checks the credentials against the registry. */
  login(auth: { username: string; password: string; serveraddress: string }): Promise<{ Status: string; IdentityToken?: string }> {
    return this.http.json('POST', '/auth', { json: auth });
  }

  /**
   * `GET /events`: the events from `since` (replayed) and then as they happen, each
   * handed to `onEvent`, until `until` (the daemon ends the stream) or `signal` aborts.
   * `since`/`until` are unix seconds (`seconds.nanoseconds` allowed), as the API wants.
   */
  async events(
    options: { since?: string; until?: string; filters?: Filters },
    onEvent: (event: DaemonEvent) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    let res: Awaited<ReturnType<Transport['request']>>;
    try {
      res = await this.http.request('GET', '/events', {
        query: { since: options.since, until: options.until, filters: encodeFilters(options.filters) },
        signal,
      });
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
    await readJsonStream<DaemonEvent>(
      res,
      (event, line) => {
        const exact = /"timeNano":(\d+)\}$/.exec(line)?.[1];
        onEvent({ ...event, timeNanoExact: exact ? BigInt(exact) : BigInt(event.time ?? 0) * 1_000_000_000n });
      },
      signal,
    );
  }

  /** berth's own endpoint: every plugin the daemon loaded, with its status and reason. */
  plugins(): Promise<PluginStatus[]> {
    return this.http.json('GET', '/berth/plugins');
  }

  /** Drops idle keep-alive connections. */
  close(): void {
    this.http.close();
  }
}
