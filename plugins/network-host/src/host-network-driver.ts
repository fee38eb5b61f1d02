import { PredefinedNetworkDriver } from '@berth/core';

/**
 * The `host` network driver: a container shares the host's network namespace
 * (namespaceMode `host`, so the engine leaves `net` out of the OCI spec's namespaces).
 * The container sees the host's interfaces, addresses and ports; published ports mean
 * nothing here (as with Docker). The driver creates no kernel object, so attach and
 * detach do nothing; attach reports no address because the container has the host's.
 *
 * Like Docker's `host` driver, it serves a single network (the predefined `host`):
 * creating a second one is refused, re-creating the same id is accepted (core's
 * PredefinedNetworkDriver keeps that bookkeeping).
 */
export class HostNetworkDriver extends PredefinedNetworkDriver {
  readonly name = 'host';
  readonly namespaceMode = 'host' as const;
}
