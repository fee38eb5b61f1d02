import { type EndpointInfo, type EndpointSpec, Forbidden, type NetworkDriver, type NetworkSpec } from '@berth/core';

/**
 * The `none` network driver: a container gets a network namespace of its own and no
 * interface in it but loopback. The OCI runtime creates the namespace (namespaceMode
 * `private`) and brings `lo` up itself, so there is nothing for the driver to plug in:
 * attach and detach do nothing and own no kernel object.
 *
 * Like Docker's `null` driver, it serves a single network (the predefined `none`):
 * creating a second one is refused. Re-creating the same id (the engine does this at
 * every daemon start) is accepted, so the call stays idempotent.
 */
export class NoneNetworkDriver implements NetworkDriver {
  readonly name = 'none';
  readonly namespaceMode = 'private' as const;
  private networkId: string | undefined;

  async createNetwork(spec: NetworkSpec): Promise<void> {
    if (this.networkId !== undefined && this.networkId !== spec.id) {
      throw new Forbidden(`only one instance of "none" network is allowed (cannot create ${spec.name})`);
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
