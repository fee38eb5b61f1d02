import type { EndpointInfo, EndpointSpec, NetworkDriver, NetworkNamespaceMode, NetworkSpec } from '../contracts/network.js';
import { Forbidden } from '../errors.js';

/**
 * The base of a network driver that serves one predefined network and plugs nothing in,
 * as Docker's `none` (`null`) and `host` drivers do: the namespace mode says it all (the
 * runtime makes a private namespace with `lo`, or the container shares the host's), so
 * attach and detach own no kernel object and do nothing; attach reports no address, and
 * the engine's IPAM hands none out (`usesIpam` false).
 *
 * Lifecycle: the engine creates the predefined network at every daemon start with the
 * same id, which is accepted (idempotent); a second network is refused with Docker's
 * message; after `deleteNetwork` of that id another may be created.
 */
export abstract class PredefinedNetworkDriver implements NetworkDriver {
  abstract readonly name: string;
  abstract readonly namespaceMode: NetworkNamespaceMode;
  readonly usesIpam = false;
  private networkId: string | undefined;

  async createNetwork(spec: NetworkSpec): Promise<void> {
    if (this.networkId !== undefined && this.networkId !== spec.id) {
      throw new Forbidden(`only one instance of "${this.name}" network is allowed (cannot create ${spec.name})`);
    }
    this.networkId = spec.id;
  }

  async deleteNetwork(spec: NetworkSpec): Promise<void> {
    if (this.networkId === spec.id) this.networkId = undefined;
  }

  /** Nothing to rebuild: these drivers make no kernel object per endpoint. */
  async restore(_endpoints: EndpointSpec[]): Promise<void> {}

  async attach(_endpoint: EndpointSpec, _netnsPath: string | undefined): Promise<EndpointInfo> {
    return {};
  }

  async detach(_endpoint: EndpointSpec): Promise<void> {}
}
