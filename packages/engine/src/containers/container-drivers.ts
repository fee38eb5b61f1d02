import {
  type DriverRegistry,
  type HostConfig,
  InvalidArgument,
  inject,
  injectable,
  type NetworkDriver,
  type Runtime,
  RuntimesToken,
  token,
} from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { usesEmbeddedDns } from '../dns/dns-record-builder.js';
import type { ContainerLink } from '../dns/links.js';
import { type LogConfig, resolveLogConfig } from '../io/log-config.js';
import type { EndpointRecord } from '../networks/network-record.js';
import { type NetworkService, NetworkServiceToken } from '../networks/network-service.js';
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

  /** The driver of a network mode, checked before a start takes anything; NotFound for an unknown network. */
  network(mode: string): NetworkDriver {
    return this.networks.driverOfMode(mode);
  }

  /**
   * Whether a mode shares the host's network namespace. An unknown network is not an
   * error here: it is reported at start, as dockerd does (a 404 from create would make
   * the docker CLI think the image is missing and try to pull it).
   */
  isHostNetwork(mode: string): boolean {
    return this.networks.isHostMode(mode);
  }

  /** Whether a mode's containers use the embedded DNS server: a user-defined network (dns/README.md); false for an unknown one. */
  usesEmbeddedDns(mode: string): boolean {
    const network = this.networks.findMode(mode);
    return network !== undefined && usesEmbeddedDns(network);
  }

  /** `address\talias target` hosts lines of links whose target has an address on the endpoint's network. */
  linkHostLines(endpoint: EndpointRecord, links: ReadonlyArray<{ link: ContainerLink; target: ContainerRecord }>): string[] {
    const lines: string[] = [];
    for (const { link, target } of links) {
      const address = this.networks.endpointsOf(target.id).find((e) => e.network.id === endpoint.networkId)?.endpoint.ipAddress;
      if (address) lines.push(`${address}\t${link.alias === link.target ? link.target : `${link.alias} ${link.target}`}`);
    }
    return lines;
  }

  /** Attach a started container's process (`pid`) to its network; the endpoint as recorded. */
  async attach(record: ContainerRecord, pid: number): Promise<EndpointRecord> {
    return (await this.networks.attach(record, pid)).endpoint;
  }

  /** The address `--add-host name:host-gateway` stands for: the default bridge's gateway. */
  hostGateway(): string | undefined {
    return this.networks.hostGateway();
  }

  /** Detach a container from its networks; what is gone already is skipped. */
  async detach(record: ContainerRecord): Promise<void> {
    await this.networks.detach(record.id);
  }
}

export const ContainerDriversToken = token<ContainerDrivers>('ContainerDrivers');
