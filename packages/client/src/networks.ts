import type { Filters, NetworkCreateRequest, NetworkInspect, NetworksPruneReport } from '@berth/core';
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

  prune(filters?: Filters): Promise<NetworksPruneReport> {
    return this.http.json('POST', '/networks/prune', { query: { filters: encodeFilters(filters) } });
  }
}
