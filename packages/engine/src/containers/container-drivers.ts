import { type DriverRegistry, type HostConfig, InvalidArgument, inject, injectable, type Runtime, RuntimesToken, token } from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { type LogConfig, resolveLogConfig } from '../io/log-config.js';
import type { EndpointRecord } from '../networks/network-record.js';
import { type NetworkService, NetworkServiceToken } from '../networks/network-service.js';
import type { ContainerRecord } from './container-record.js';

/**
 * Which runtime, log driver and networks a container runs on, and its endpoints on those
 * networks: the one place that turns a record's `runtime` and `networks` into drivers
 * (with the errors a user sees for unknown ones) and attaches or detaches the container.
 */
@injectable()
export class ContainerDrivers {
  constructor(
    @inject(EngineConfigToken) private readonly config: ResolvedEngineConfig,
    @inject(RuntimesToken) private readonly runtimes: DriverRegistry<Runtime>,
    @inject(NetworkServiceToken) private readonly networks: NetworkService,
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

  /** The container's networks, checked before a start takes anything (drivers discovered if need be); NotFound for an unknown network or driver. */
  async checkNetworks(record: ContainerRecord): Promise<void> {
    await this.networks.plan(record.networks);
  }

  /**
   * Whether a mode shares the host's network namespace. An unknown network is not an
   * error here: it is reported at start, as dockerd does (a 404 from create would make
   * the docker CLI think the image is missing and try to pull it).
   */
  isHostNetwork(mode: string): boolean {
    return this.networks.isHostMode(mode);
  }

  /** Attach a started container's process (`pid`) to each of its networks, in order; the endpoints as recorded. */
  attach(record: ContainerRecord, pid: number): Promise<EndpointRecord[]> {
    return this.networks.attachAll(record, pid);
  }

  /** Whether two network names are one network (`default` and `bridge`, a name and its id). */
  sameNetwork(a: string, b: string): boolean {
    return this.networks.sameNetwork(a, b);
  }

  /** The address `--add-host name:host-gateway` stands for: the default bridge's gateway. */
  hostGateway(): string | undefined {
    return this.networks.hostGateway();
  }

  /** Detach a container from its networks; what is gone already is skipped. */
  async detach(record: ContainerRecord): Promise<void> {
    await this.networks.detach(record.id);
  }

  /** Detach a removed container from its networks in the background (NetworkService.detachLater); returns at once. */
  detachLater(record: ContainerRecord): void {
    this.networks.detachLater(record.id);
  }
}

export const ContainerDriversToken = token<ContainerDrivers>('ContainerDrivers');
