import {
  type DriverRegistry,
  type HostConfig,
  InvalidArgument,
  inject,
  injectable,
  type NetworkDriver,
  NetworkDriversToken,
  NotFound,
  type Runtime,
  RuntimesToken,
  token,
} from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { type LogConfig, resolveLogConfig } from '../io/log-config.js';
import type { ContainerRecord } from './container-record.js';

/**
 * Which runtime, log driver and network driver a container runs on, and its endpoint on that
 * network: the one place that turns a record's `runtime` and `networkMode` into drivers
 * (with the errors a user sees for unknown ones) and attaches or detaches the container.
 */
@injectable()
export class ContainerDrivers {
  constructor(
    @inject(EngineConfigToken) private readonly config: ResolvedEngineConfig,
    @inject(RuntimesToken) private readonly runtimes: DriverRegistry<Runtime>,
    @inject(NetworkDriversToken) private readonly networks: DriverRegistry<NetworkDriver>,
  ) {}

  /** The runtime a create asks for (`HostConfig.Runtime`), or the default; refused when unknown. */
  runtimeName(requested: string | undefined): string {
    const name = requested || this.config.defaultRuntime;
    this.runtime(name);
    return name;
  }

  /** The log driver and options a create asks for (`HostConfig.LogConfig`), the daemon's defaults filled in; refused when unsupported. */
  logConfig(requested: HostConfig['LogConfig']): LogConfig {
    return resolveLogConfig(requested, { driver: this.config.logDriver, opts: this.config.logOpts });
  }

  runtime(name: string): Runtime {
    const runtime = this.runtimes.get(name);
    if (!runtime) {
      const known = [...this.runtimes.keys()].join(', ') || 'none';
      throw new InvalidArgument(`unknown or invalid runtime name: ${name} (available: ${known})`);
    }
    return runtime;
  }

  /** The runtime of a record, if it is still loaded (recovery and clean-up tolerate its absence). */
  findRuntime(name: string): Runtime | undefined {
    return this.runtimes.get(name);
  }

  /** The network a mode names: `default` (or empty) is the daemon's default network. */
  networkName(mode: string): string {
    return mode === '' || mode === 'default' ? this.defaultNetwork() : mode;
  }

  /** The driver of a network mode; NotFound for an unknown network. */
  network(mode: string): NetworkDriver {
    const name = this.networkName(mode);
    const driver = this.networks.get(name);
    if (!driver) throw new NotFound(`network ${name} not found`);
    return driver;
  }

  /**
   * Whether a mode shares the host's network namespace. An unknown network is not an
   * error here: it is reported at start, as dockerd does (a 404 from create would make
   * the docker CLI think the image is missing and try to pull it).
   */
  isHostNetwork(mode: string): boolean {
    return this.networks.get(this.networkName(mode))?.namespaceMode === 'host';
  }

  /** Attach a started container's process (`pid`) to its network. */
  async attach(record: ContainerRecord, pid: number): Promise<void> {
    const network = this.network(record.networkMode);
    await network.attach(endpointOf(network, record), network.namespaceMode === 'host' ? undefined : `/proc/${pid}/ns/net`);
  }

  /** Detach a container from its network; a network that is gone has nothing to detach. */
  async detach(record: ContainerRecord): Promise<void> {
    const network = this.networks.get(this.networkName(record.networkMode));
    await network?.detach(endpointOf(network, record));
  }

  private defaultNetwork(): string {
    return this.networks.has('bridge') ? 'bridge' : 'none';
  }
}

export const ContainerDriversToken = token<ContainerDrivers>('ContainerDrivers');

function endpointOf(network: NetworkDriver, record: ContainerRecord) {
  return { networkId: network.name, id: record.id, containerId: record.id, aliases: [record.name] };
}
