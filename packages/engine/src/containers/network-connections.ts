import {
  Conflict,
  InvalidArgument,
  inject,
  injectable,
  isBerthError,
  type Logger,
  LoggerToken,
  type NetworkConnectRequest,
  type NetworkDisconnectRequest,
  token,
} from '@berth/core';
import type { NetworkRecord } from '../networks/network-record.js';
import { type NetworkService, NetworkServiceToken } from '../networks/network-service.js';
import { type RunResources, RunResourcesToken } from '../runs/run-resources.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { type ContainerLocks, ContainerLocksToken } from './container-locks.js';
import type { ContainerRecord } from './container-record.js';
import { attachmentOf, isContainerMode } from './network-attachments.js';

/**
 * `network connect` and `network disconnect` (POST /networks/{id}/connect|disconnect),
 * under the container's lock, with dockerd's rules and messages:
 *
 * - a running container is connected at once: an endpoint written ahead, the driver's
 *   attach into the namespace of its process (the next `ethN`), then its record lists the
 *   network and its /etc/hosts gains the address; a disconnect first drops the network
 *   from its record, then detaches the endpoint and rewrites /etc/hosts. A kill -9 in
 *   between is settled at start (NetworkService.sweep keeps an endpoint only when its
 *   running container's record lists the network): a connect cut before its record is
 *   undone, a disconnect cut after its record is finished;
 * - a created or stopped container only has its record changed; the network is joined
 *   (or no longer) at its next start.
 */
@injectable()
export class NetworkConnections {
  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ContainerLocksToken) private readonly locks: ContainerLocks,
    @inject(NetworkServiceToken) private readonly networks: NetworkService,
    @inject(RunResourcesToken) private readonly resources: RunResources,
    @inject(LoggerToken) private readonly log: Logger,
  ) {}

  async connect(networkRef: string, request: NetworkConnectRequest): Promise<void> {
    if (!request?.Container) throw new InvalidArgument('network connect: Container is required (a container name or id)');
    const record = this.store.get(request.Container);
    await this.locks.run(record.id, async () => {
      refuseRemoval(record);
      if (isContainerMode(record.networkMode)) {
        throw new InvalidArgument(
          'container sharing network namespace with another container or host cannot be connected to any other network',
        );
      }
      const network = this.networks.resolveMode(networkRef);
      if (this.networks.isHostMode(network.id) && !record.networks.some((a) => this.networks.sameNetwork(a.network, network.id))) {
        throw new InvalidArgument('cannot connect container to host network - container must be created in host network mode');
      }
      const attachment = attachmentOf(network.name, request.EndpointConfig);
      if (record.state.Running && record.state.Pid > 0) {
        await this.networks.connectRunning(record, attachment, record.state.Pid);
        this.log.debug('network connect attached', { id: record.id, network: network.name });
        record.networks = [...record.networks.filter((a) => !this.names(a.network, network)), attachment];
        await this.store.save(record);
        await this.rewriteHosts(record);
        return;
      }
      // dockerd records a stopped container's network once; a second connect changes nothing.
      if (record.networks.some((a) => this.names(a.network, network))) return;
      // Docker's refused mixes (none, the host's namespace), among the networks that still exist.
      await this.networks.plan([...record.networks.filter((a) => this.networks.findMode(a.network)), attachment]);
      record.networks = [...record.networks, attachment];
      await this.store.save(record);
    });
  }

  async disconnect(networkRef: string, request: NetworkDisconnectRequest): Promise<void> {
    if (!request?.Container) throw new InvalidArgument('network disconnect: Container is required (a container name or id)');
    const record = this.store.get(request.Container);
    await this.locks.run(record.id, async () => {
      refuseRemoval(record);
      let network: NetworkRecord | undefined;
      try {
        network = this.networks.resolveMode(networkRef);
      } catch (err) {
        // Force: forget a network that is gone from the record of the container.
        if (!request.Force || !isBerthError(err, 'NotFound')) throw err;
      }
      if (network && record.state.Running && record.state.Pid > 0) {
        if (this.networks.isHostMode(network.id) && record.networks.some((a) => this.names(a.network, network))) {
          throw new InvalidArgument('cannot disconnect container from host network - container was created in host network mode');
        }
        if (!this.networks.endpointsOf(record.id).some((e) => e.network.id === network.id)) {
          throw new Conflict(`container ${record.id} is not connected to network ${network.name}`);
        }
        // The record first: a crash after it is finished at start (the endpoint released).
        record.networks = record.networks.filter((a) => !this.names(a.network, network));
        await this.store.save(record);
        this.log.debug('network disconnect written ahead', { id: record.id, network: network.name });
        await this.networks.disconnectRunning(record.id, network.id, record.state.Pid);
        await this.rewriteHosts(record);
        return;
      }
      const name = network?.name ?? networkRef;
      const kept = record.networks.filter((a) => a.network !== networkRef && !(network && this.names(a.network, network)));
      if (kept.length === record.networks.length) throw new Conflict(`container ${record.id} is not connected to the network ${name}`);
      record.networks = kept;
      await this.store.save(record);
    });
  }

  /** Whether an attachment's network name is `network`. */
  private names(ref: string, network: NetworkRecord): boolean {
    return ref === network.name || ref === network.id || this.networks.sameNetwork(ref, network.id);
  }

  private async rewriteHosts(record: ContainerRecord): Promise<void> {
    // In interface order, as they were joined: the hosts file lists the addresses so.
    const index = (name: string | undefined) => Number(/^eth(\d+)$/.exec(name ?? '')?.[1] ?? 0);
    const endpoints = this.networks
      .endpointsOf(record.id)
      .map((e) => e.endpoint)
      .sort((a, b) => index(a.interfaceName) - index(b.interfaceName));
    await this.resources
      .writeHosts(record, endpoints)
      .catch((err) => this.log.warn('cannot rewrite /etc/hosts after a network change', { id: record.id, error: String(err) }));
  }
}

/** dockerd's refusal for a container on its way out. */
function refuseRemoval(record: ContainerRecord): void {
  if (record.state.Status === 'removing' || record.state.Dead) {
    throw new Conflict(`Container ${record.id} is marked for removal and cannot be connected or disconnected to the network`);
  }
}

export const NetworkConnectionsToken = token<NetworkConnections>('NetworkConnections');
