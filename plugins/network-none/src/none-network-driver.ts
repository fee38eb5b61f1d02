import { PredefinedNetworkDriver } from '@berth/core';

/**
 * The `none` network driver: a container gets a network namespace of its own and no
 * interface in it but loopback. The OCI runtime creates the namespace (namespaceMode
 * `private`) and brings `lo` up itself, so there is nothing for the driver to plug in:
 * attach and detach do nothing and own no kernel object.
 *
 * Like Docker's `null` driver, it serves a single network (the predefined `none`):
 * creating a second one is refused, re-creating the same id is accepted (core's
 * PredefinedNetworkDriver keeps that bookkeeping).
 */
export class NoneNetworkDriver extends PredefinedNetworkDriver {
  readonly name = 'none';
  readonly namespaceMode = 'private' as const;
}
