import type { Filters, Volume, VolumeCreateBody, VolumeListResponse, VolumesPruneReport } from '@berth/core';
import { encodeFilters } from './query.js';
import type { Transport } from './transport.js';

/** `/volumes/…` endpoints. */
export class VolumesClient {
  constructor(private readonly http: Transport) {}

  create(request: VolumeCreateBody): Promise<Volume> {
    return this.http.json('POST', '/volumes/create', { json: request });
  }

  list(filters?: Filters): Promise<VolumeListResponse> {
    return this.http.json('GET', '/volumes', { query: { filters: encodeFilters(filters) } });
  }

  inspect(name: string): Promise<Volume> {
    return this.http.json('GET', `/volumes/${encodeURIComponent(name)}`);
  }

  remove(name: string, force = false): Promise<void> {
    return this.http.call('DELETE', `/volumes/${encodeURIComponent(name)}`, { query: { force: force ? '1' : undefined } });
  }

  prune(filters?: Filters): Promise<VolumesPruneReport> {
    return this.http.json('POST', '/volumes/prune', { query: { filters: encodeFilters(filters) } });
  }
}
