import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { inject, injectable, token, writeJsonAtomic } from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import type { EndpointRecord, NetworkRecord } from './network-record.js';

/**
 * The engine's network model on disk and in memory: networks keyed by id under
 * `<data-root>/networks/<id>/network.json`, each with its endpoints, one file per
 * container, under `endpoints/`. Every write is atomic (temporary file, fsync, rename);
 * a network's directory goes only after its driver deleted the network. Holds no lock:
 * NetworkService serialises what changes a network.
 */
@injectable()
export class NetworkStore {
  private readonly root: string;
  private readonly networks = new Map<string, NetworkRecord>();
  private readonly endpoints = new Map<string, Map<string, EndpointRecord>>();

  constructor(@inject(EngineConfigToken) config: ResolvedEngineConfig) {
    this.root = path.join(config.dataRoot, 'networks');
  }

  /**
   * Read every record; an unreadable file is reported and skipped. The temporary files of
   * atomic writes a crash cut short (`.<name>.<random>.tmp`) are deleted: the write they
   * belonged to never happened.
   */
  async load(unreadable: (file: string, err: unknown) => void): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const id of await fs.readdir(this.root)) {
      const dir = path.join(this.root, id);
      await removeInterruptedWrites(dir);
      await removeInterruptedWrites(path.join(dir, 'endpoints'));
      try {
        const record = JSON.parse(await fs.readFile(path.join(dir, 'network.json'), 'utf8')) as NetworkRecord;
        this.networks.set(record.id, record);
      } catch (err) {
        // A directory without its network.json is a create cut before its first write.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') await fs.rm(dir, { recursive: true, force: true });
        else unreadable(path.join(dir, 'network.json'), err);
        continue;
      }
      const byContainer = new Map<string, EndpointRecord>();
      const names = await fs.readdir(path.join(dir, 'endpoints')).catch(() => [] as string[]);
      for (const name of names.filter((n) => n.endsWith('.json'))) {
        const file = path.join(dir, 'endpoints', name);
        try {
          const endpoint = JSON.parse(await fs.readFile(file, 'utf8')) as EndpointRecord;
          byContainer.set(endpoint.containerId, endpoint);
        } catch (err) {
          unreadable(file, err);
        }
      }
      this.endpoints.set(id, byContainer);
    }
  }

  list(): NetworkRecord[] {
    return [...this.networks.values()];
  }

  get(id: string): NetworkRecord | undefined {
    return this.networks.get(id);
  }

  async save(record: NetworkRecord): Promise<void> {
    await fs.mkdir(path.join(this.root, record.id, 'endpoints'), { recursive: true, mode: 0o700 });
    await writeJsonAtomic(path.join(this.root, record.id, 'network.json'), record);
    this.networks.set(record.id, record);
    if (!this.endpoints.has(record.id)) this.endpoints.set(record.id, new Map());
  }

  /** Forget a network and delete its directory (its endpoints must be gone). */
  async delete(id: string): Promise<void> {
    // network.json goes first: a crash after it leaves a directory load() recognises as garbage.
    await fs.rm(path.join(this.root, id, 'network.json'), { force: true });
    await fs.rm(path.join(this.root, id), { recursive: true, force: true });
    this.networks.delete(id);
    this.endpoints.delete(id);
  }

  endpointsOf(networkId: string): EndpointRecord[] {
    return [...(this.endpoints.get(networkId)?.values() ?? [])];
  }

  /** A container's endpoints, over every network. */
  endpointsOfContainer(containerId: string): EndpointRecord[] {
    const found: EndpointRecord[] = [];
    for (const byContainer of this.endpoints.values()) {
      const endpoint = byContainer.get(containerId);
      if (endpoint) found.push(endpoint);
    }
    return found;
  }

  /** Write an endpoint (without the driver's in-memory answer, `info`) and keep it, `info` included, in memory. */
  async saveEndpoint(endpoint: EndpointRecord): Promise<void> {
    const { info: _inMemory, ...durable } = endpoint;
    await writeJsonAtomic(path.join(this.root, endpoint.networkId, 'endpoints', `${endpoint.containerId}.json`), durable);
    this.endpoints.get(endpoint.networkId)?.set(endpoint.containerId, endpoint);
  }

  async deleteEndpoint(endpoint: EndpointRecord): Promise<void> {
    await fs.rm(path.join(this.root, endpoint.networkId, 'endpoints', `${endpoint.containerId}.json`), { force: true });
    this.endpoints.get(endpoint.networkId)?.delete(endpoint.containerId);
  }
}

/** Delete what atomic writes cut short left in a directory (absent directories are fine). */
async function removeInterruptedWrites(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names) if (name.startsWith('.') && name.endsWith('.tmp')) await fs.rm(path.join(dir, name), { force: true });
}

export const NetworkStoreToken = token<NetworkStore>('NetworkStore');
