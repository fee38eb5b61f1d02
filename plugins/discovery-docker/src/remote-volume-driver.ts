import {
  Conflict,
  type DriverVolume,
  InvalidArgument,
  isBerthError,
  type Logger,
  NotFound,
  SystemError,
  silentLogger,
  type VolumeDriver,
  type VolumeMountContext,
} from '@berth/core';
import { MethodNotSupported, PluginClient, PluginRefused } from './plugin-client.js';
import type { PluginAddress } from './plugin-locator.js';

/** `VolumeDriver.Capabilities`' answer; a plugin without the method gets Docker's defaults (`local`). */
export interface VolumeCapabilities {
  Capabilities?: { Scope?: unknown };
}

/** A volume as the protocol's Get and List carry it. */
interface WireVolume {
  Name?: unknown;
  Mountpoint?: unknown;
  CreatedAt?: unknown;
  Status?: unknown;
}

/**
 * What a plugin's `Err` says, as core's error class. The protocol carries only a string,
 * so the adapter reads the words Docker's own plugins use: "no such volume"/"not found"/
 * "does not exist" is NotFound, "in use"/"busy"/"mounted" is Conflict, and an option a
 * Create refused ("unknown option", "invalid", "not supported") is InvalidArgument. Any
 * other refusal stays a SystemError with the plugin's message.
 */
function classify(err: unknown, method: string): unknown {
  if (!(err instanceof PluginRefused)) return err;
  const text = err.pluginMessage;
  if (/no such volume|not found|does not exist|doesn't exist|unknown volume/i.test(text)) return new NotFound(err.message, { cause: err });
  if (/in use|busy|is mounted|still mounted/i.test(text)) return new Conflict(err.message, { cause: err });
  if (method === 'VolumeDriver.Create' && /option|invalid|not supported|unsupported/i.test(text)) {
    return new InvalidArgument(err.message, { cause: err });
  }
  return err;
}

/**
 * Docker's out-of-process volume plugin protocol as core's VolumeDriver: each method is
 * one `POST /VolumeDriver.<Method>` to the plugin (`PluginClient`: JSON over its UNIX
 * socket or TCP address, one connection per call, each call limited by the client's
 * timeout), and each `Err` the plugin answers becomes core's error class (`classify`).
 *
 * `mountCalls` is `per-container`: the engine calls `mount`/`unmount` once per container
 * with its id, which goes to the plugin as the protocol's caller `ID`, so a plugin that
 * counts its callers (as Docker's plugins do) gets what dockerd would send it. The
 * adapter keeps no state: the plugin keeps its volumes, the engine its records. `scope`
 * is what `VolumeDriver.Capabilities` said at discovery (`local` when the plugin lacks
 * the method or names another scope, as dockerd).
 *
 * | core | the plugin |
 * |---|---|
 * | `create(name, options)` | `Create` {Name, Opts}, then `Get` for what `docker volume inspect` shows |
 * | `get(name)` | `Get` {Name} → {Volume: {Name, Mountpoint, CreatedAt, Status}}; without a Mountpoint, `Path` {Name} |
 * | `list()` | `List` → {Volumes: [...]} |
 * | `remove(name)` | `Remove` {Name} |
 * | `mount(name, ctx)` | `Mount` {Name, ID: ctx.containerId} → {Mountpoint}, which must be an absolute path |
 * | `unmount(name, ctx)` | `Unmount` {Name, ID: ctx.containerId} |
 */
export class RemoteVolumeDriver implements VolumeDriver {
  readonly mountCalls = 'per-container' as const;
  readonly scope: 'local' | 'global';

  constructor(
    readonly name: string,
    private readonly client: PluginClient,
    capabilities: VolumeCapabilities = {},
    private readonly log: Logger = silentLogger,
  ) {
    this.scope = capabilities.Capabilities?.Scope === 'global' ? 'global' : 'local';
  }

  async create(name: string, options: Readonly<Record<string, string>>): Promise<DriverVolume> {
    await this.call('VolumeDriver.Create', { Name: name, Opts: { ...options } });
    return this.get(name).catch((err: unknown) => {
      // Made, but the plugin cannot describe it yet: the engine's record says the rest.
      if (isBerthError(err, 'NotFound')) throw err;
      this.log.warn('volume plugin created a volume it cannot describe', { volume: name, error: String(err) });
      return { name };
    });
  }

  async get(name: string): Promise<DriverVolume> {
    const answer = await this.call<{ Volume?: WireVolume }>('VolumeDriver.Get', { Name: name });
    if (!answer.Volume || typeof answer.Volume !== 'object') {
      throw new NotFound(`plugin ${this.name}: VolumeDriver.Get: no volume ${name} in its answer`);
    }
    const volume = this.volumeOf(answer.Volume, name);
    if (volume.mountpoint !== undefined) return volume;
    // Get's Mountpoint is optional; Path may know it (a plugin asked again later, as the protocol says).
    const path = await this.call<{ Mountpoint?: unknown }>('VolumeDriver.Path', { Name: name }).catch(
      (err: unknown): { Mountpoint?: unknown } => {
        if (err instanceof MethodNotSupported) return {};
        throw err;
      },
    );
    return typeof path.Mountpoint === 'string' && path.Mountpoint.startsWith('/') ? { ...volume, mountpoint: path.Mountpoint } : volume;
  }

  async list(): Promise<DriverVolume[]> {
    const answer = await this.call<{ Volumes?: unknown }>('VolumeDriver.List');
    if (!Array.isArray(answer.Volumes)) return [];
    return answer.Volumes.filter((v): v is WireVolume => typeof v === 'object' && v !== null && typeof v.Name === 'string').map((v) =>
      this.volumeOf(v, v.Name as string),
    );
  }

  async remove(name: string): Promise<void> {
    await this.call('VolumeDriver.Remove', { Name: name });
  }

  async mount(name: string, ctx: VolumeMountContext): Promise<string> {
    const answer = await this.call<{ Mountpoint?: unknown }>('VolumeDriver.Mount', { Name: name, ID: ctx.containerId });
    if (typeof answer.Mountpoint !== 'string' || !answer.Mountpoint.startsWith('/')) {
      // Mounted for this ID in the plugin, but unusable: give it back so the plugin's count stays right.
      await this.call('VolumeDriver.Unmount', { Name: name, ID: ctx.containerId }).catch((err: unknown) =>
        this.log.warn('volume plugin refused the unmount of an unusable mount', { volume: name, error: String(err) }),
      );
      throw new SystemError(
        `plugin ${this.name}: VolumeDriver.Mount of ${name} gave no absolute Mountpoint: ${JSON.stringify(answer.Mountpoint)}`,
      );
    }
    return answer.Mountpoint;
  }

  async unmount(name: string, ctx: VolumeMountContext): Promise<void> {
    await this.call('VolumeDriver.Unmount', { Name: name, ID: ctx.containerId });
  }

  private volumeOf(wire: WireVolume, name: string): DriverVolume {
    return {
      name,
      ...(typeof wire.Mountpoint === 'string' && wire.Mountpoint.startsWith('/') ? { mountpoint: wire.Mountpoint } : {}),
      ...(typeof wire.CreatedAt === 'string' && wire.CreatedAt !== '' ? { createdAt: wire.CreatedAt } : {}),
      ...(wire.Status && typeof wire.Status === 'object' ? { status: wire.Status as Record<string, unknown> } : {}),
    };
  }

  private async call<T>(method: string, body: unknown = {}): Promise<T> {
    try {
      return await this.client.call<T>(method, body);
    } catch (err) {
      throw classify(err, method);
    }
  }
}

/** Settings of `connectVolumePlugin`. */
export interface ConnectVolumePluginOptions {
  /** The plugin's name (what `-d` names); the socket's base name without `.sock` when not given. */
  name?: string;
  /** One call's limit, in milliseconds (30000 when not given). */
  timeoutMs?: number;
  log?: Logger;
}

/**
 * A RemoteVolumeDriver for the Docker volume plugin listening on `socketPath`, activated
 * (`Plugin.Activate` must list `VolumeDriver`) and asked its `Capabilities`, without any
 * discovery: what a test or a conformance suite uses to drive a plugin it started itself.
 */
export async function connectVolumePlugin(socketPath: string, options: ConnectVolumePluginOptions = {}): Promise<RemoteVolumeDriver> {
  const name = options.name ?? (socketPath.split('/').pop() ?? socketPath).replace(/\.sock$/, '');
  const address: PluginAddress = { kind: 'unix', socketPath, foundIn: socketPath };
  const client = new PluginClient(name, address, options.timeoutMs ?? 30_000);
  const activation = await client.call<{ Implements?: unknown }>('Plugin.Activate');
  const implemented = Array.isArray(activation.Implements) ? activation.Implements.map(String) : [];
  if (!implemented.includes('VolumeDriver')) {
    throw new InvalidArgument(
      `plugin ${name} at unix://${socketPath} does not implement VolumeDriver (it implements ${implemented.join(', ') || 'nothing'})`,
    );
  }
  return new RemoteVolumeDriver(name, client, await volumeCapabilities(client), options.log);
}

/** `VolumeDriver.Capabilities`, optional in the protocol: a plugin without it gets the defaults. */
export async function volumeCapabilities(client: PluginClient): Promise<VolumeCapabilities> {
  return client.call<VolumeCapabilities>('VolumeDriver.Capabilities').catch((err: unknown) => {
    if (err instanceof MethodNotSupported) return {};
    throw err;
  });
}
