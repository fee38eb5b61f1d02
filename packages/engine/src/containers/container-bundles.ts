import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type ContainerCreateBody, inject, injectable, token, writeFileAtomic } from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { type HostFacts, type ImageRunConfig, type OciResources, type OciSpec, readHostFacts, specToJson } from '../oci/index.js';
import { type ContainerPaths, ContainerPathsToken } from './container-paths.js';
import type { ContainerVolume } from './container-record.js';
import { buildContainerSpec, type ContainerSpec } from './container-spec.js';
import { type ContainerVolumes, ContainerVolumesToken } from './container-volumes.js';
import { type EtcFiles, type EtcRequest, writeEtcFiles } from './etc-files.js';

/**
 * The facts of the host a spec depends on (capability bounding set, cgroup version,
 * rlimits...). Read once per engine: they do not change while it runs. Tests register
 * their own to describe another host.
 */
export const HostFactsToken = token<HostFacts>('HostFacts');

/** The default provider of HostFactsToken. */
export { readHostFacts };

/**
 * A container's files made at create: its own /etc files (hostname, hosts, resolv.conf)
 * and its OCI bundle (`bundle/config.json`), whose spec is built from the create request,
 * the image's config and the host's facts. All validation of a create request happens in
 * building the spec, so a bad flag fails the create before anything is kept.
 */
@injectable()
export class ContainerBundles {
  constructor(
    @inject(EngineConfigToken) private readonly config: ResolvedEngineConfig,
    @inject(HostFactsToken) private readonly host: HostFacts,
    @inject(ContainerPathsToken) private readonly paths: ContainerPaths,
    @inject(ContainerVolumesToken) private readonly volumes: ContainerVolumes,
  ) {}

  /** The container's directory, where its /etc files and bundle live. */
  dirOf(id: string): string {
    return this.paths.dir(id);
  }

  /**
   * Make the container's directory, its rootfs mount point, its bundle directory and its
   * /etc files (side by side with the snapshot's preparation, off the create's path). A
   * container that joins another's network namespace (`joinedId`) has none of its own: it
   * shares the joined container's files, as in dockerd.
   */
  async writeEtc(id: string, hostname: string, hostNetwork: boolean, request: EtcRequest = {}, joinedId?: string): Promise<EtcFiles> {
    await fs.mkdir(this.paths.rootfs(id), { recursive: true, mode: 0o755 });
    if (joinedId) {
      await fs.mkdir(this.paths.bundle(id), { mode: 0o700 });
      const dir = this.paths.dir(joinedId);
      return { hostname: path.join(dir, 'hostname'), hosts: path.join(dir, 'hosts'), resolvConf: path.join(dir, 'resolv.conf') };
    }
    const [etc] = await Promise.all([
      writeEtcFiles(this.paths.dir(id), hostname, hostNetwork, request),
      fs.mkdir(this.paths.bundle(id), { mode: 0o700 }),
    ]);
    return etc;
  }

  /** Build the spec (the rootfs must be mounted: the image's /etc/passwd is read) and write the bundle (after writeEtc). */
  async writeBundle(request: {
    id: string;
    body: ContainerCreateBody;
    image: ImageRunConfig;
    etc: EtcFiles;
    hostNetwork: boolean;
    /** The storage driver enforces `--storage-opt size=` (StorageCapabilities.sizeQuota). */
    sizeQuota?: boolean;
  }): Promise<ContainerSpec & { madeVolumes: ContainerVolume[] }> {
    const rootfs = this.paths.rootfs(request.id);
    const made: ContainerVolume[] = [];
    try {
      const spec = await buildContainerSpec({
        ...request,
        rootfs,
        cgroupParent: this.config.cgroupParent,
        host: this.host,
        resolveVolume: (v) => this.volumes.resolve(request.id, v, rootfs, made),
      });
      await fs.writeFile(path.join(this.paths.bundle(request.id), 'config.json'), spec.json);
      return { ...spec, madeVolumes: made };
    } catch (err) {
      // The volumes this create made go with it; those it only found stay.
      await this.volumes.discard(made);
      throw err;
    }
  }

  /** Remove the volumes a create made, when the create fails after its bundle was written. */
  discardVolumes(made: readonly ContainerVolume[]): Promise<void> {
    return this.volumes.discard(made);
  }

  /**
   * Point the bundle's network namespace at another container's (`--network
   * container:<id>`, at each start: the joined container's pid changes when it restarts).
   */
  async joinNetworkNamespace(id: string, netnsPath: string): Promise<void> {
    await this.editSpec(id, (spec) => {
      const namespaces = spec.linux?.namespaces ?? [];
      const network = namespaces.find((n) => n.type === 'network');
      if (network) network.path = netnsPath;
      else namespaces.push({ type: 'network', path: netnsPath });
    });
  }

  /**
   * Bind volumes from the host paths their drivers gave at this start's mount, where they
   * differ from the bundle's (a Docker volume plugin may answer each `Mount` with another
   * path): each mount whose destination is listed gets the new source.
   */
  async rebindVolumes(id: string, sources: ReadonlyMap<string, string>): Promise<void> {
    if (sources.size === 0) return;
    await this.editSpec(id, (spec) => {
      for (const m of spec.mounts ?? []) {
        const source = sources.get(m.destination);
        if (source !== undefined && m.type === 'bind') m.source = source;
      }
    });
  }

  /**
   * Put new memory, CPU and pids limits in the bundle (`docker update`), so the next start
   * of the container runs with them; the running process gets them from the runtime.
   */
  async updateResources(id: string, resources: Omit<OciResources, 'devices'>): Promise<void> {
    await this.editSpec(id, (spec) => {
      const current = spec.linux?.resources;
      if (!current) return;
      for (const key of ['memory', 'cpu', 'pids'] as const) {
        if (resources[key]) current[key] = resources[key] as never;
        else delete current[key];
      }
    });
  }

  /** Read the bundle's spec, change it, and write it back atomically. */
  private async editSpec(id: string, change: (spec: OciSpec) => void): Promise<void> {
    const file = path.join(this.paths.bundle(id), 'config.json');
    // The spec holds 2^64-1 for unlimited rlimits: numbers past 2^53 are read exactly, as bigints.
    const bigints = (_key: string, value: unknown, context?: { source?: string }) =>
      typeof value === 'number' && !Number.isSafeInteger(value) && context?.source && /^\d+$/.test(context.source)
        ? BigInt(context.source)
        : value;
    const spec = JSON.parse(await fs.readFile(file, 'utf8'), bigints as (key: string, value: unknown) => unknown) as OciSpec;
    change(spec);
    await writeFileAtomic(file, specToJson(spec));
  }
}

export const ContainerBundlesToken = token<ContainerBundles>('ContainerBundles');
