import { type EndpointInfo, type EndpointSpec, Forbidden, type NetworkDriver, type NetworkSpec } from '@berth/core';

/**
 * The `host` network driver: a container shares the host's network namespace
 * (namespaceMode `host`, so the engine leaves `net` out of the OCI spec's namespaces).
 * The container sees the host's interfaces, addresses and ports; published ports mean
 * nothing here (as with Docker). The driver creates no kernel object, so attach and
 * detach do nothing; attach reports no address because the container has the host's.
 *
 * Like Docker's `host` driver, it serves a single network (the predefined `host`):
 * creating a second one is refused; re-creating the same id is accepted (idempotent).
 */
export class HostNetworkDriver implements NetworkDriver {
  readonly name = 'host';
  readonly namespaceMode = 'host' as const;
  private networkId: string | undefined;

  async createNetwork(spec: NetworkSpec): Promise<void> {
    if (this.networkId !== undefined && this.networkId !== spec.id) {
      throw new Forbidden(`only one instance of "host" network is allowed (cannot create ${spec.name})`);
    }
    this.networkId = spec.id;
  }

  async deleteNetwork(id: string): Promise<void> {
    if (this.networkId === id) this.networkId = undefined;
  }

  async attach(_endpoint: EndpointSpec, _netnsPath: string | undefined): Promise<EndpointInfo> {
    return {};
  }

  async detach(_endpoint: EndpointSpec): Promise<void> {}
}
