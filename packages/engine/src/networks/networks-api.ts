import type { NetworksApi } from '@berth/core';
import type { NetworkConnections } from '../containers/network-connections.js';
import type { NetworkService } from './network-service.js';

/**
 * The engine's `NetworksApi`: the networks themselves from NetworkService, connect and
 * disconnect from NetworkConnections (which changes containers, under their locks, and so
 * lives beside them: NetworkService knows no container beyond its endpoints).
 */
export function networksApi(service: NetworkService, connections: NetworkConnections): NetworksApi {
  return {
    create: (request) => service.create(request),
    list: (filters) => service.list(filters),
    inspect: (idOrName) => service.inspect(idOrName),
    remove: (idOrName) => service.remove(idOrName),
    prune: (filters) => service.prune(filters),
    connect: (idOrName, request) => connections.connect(idOrName, request),
    disconnect: (idOrName, request) => connections.disconnect(idOrName, request),
  };
}
