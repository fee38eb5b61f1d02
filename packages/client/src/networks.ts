import type {
  Filters,
  NetworkConnectRequest,
  NetworkCreateRequest,
  NetworkDisconnectRequest,
  NetworkInspect,
  NetworksPruneReport,
} from '@berth/core';
import { encodeFilters } from './query.js';
import type { Transport } from './transport.js';

/** `/networks/…` endpoints. */
export class NetworksClient {
  constructor(private readonly http: Transport) {}

  create(request: NetworkCreateRequest): Promise<{ Id: string; Warning?: string }> {
    return this.http.json('POST', '/networks/create', { json: request });
  }

  list(filters?: Filters): Promise<NetworkInspect[]> {
    return this.http.json('GET', '/networks', { query: { filters: encodeFilters(filters) } });
  }

  inspect(ref: string): Promise<NetworkInspect> {
    return this.http.json('GET', `/networks/${encodeURIComponent(ref)}`);
  }

  remove(ref: string): Promise<void> {
    return this.http.call('DELETE', `/networks/${encodeURIComponent(ref)}`);
  }

  connect(ref: string, request: NetworkConnectRequest): Promise<void> {
    return this.http.call('POST', `/networks/${encodeURIComponent(ref)}/connect`, { json: request });
  }

  disconnect(ref: string, request: NetworkDisconnectRequest): Promise<void> {
    return this.http.call('POST', `/networks/${encodeURIComponent(ref)}/disconnect`, { json: request });
  }

  prune(filters?: Filters): Promise<NetworksPruneReport> {
    return this.http.json('POST', '/networks/prune', { query: { filters: encodeFilters(filters) } });
  }
}
