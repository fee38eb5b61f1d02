import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  type ContainerCreateBody,
  type EventBus,
  EventBusToken,
  InvalidArgument,
  inject,
  injectable,
  type Logger,
  LoggerToken,
  token,
} from '@berth/core';
import { requestedLinks, storedLinks } from '../dns/links.js';
import { type ImageHolds, ImageHoldsToken } from '../images/image-holds.js';
import { type ImageQueries, ImageQueriesToken } from '../images/image-queries.js';
import { parseBind } from '../oci/mounts.js';
import { refuseUnsupportedSettings, storageSizeBytes } from '../oci/unsupported-settings.js';
import { type RootFilesystems, RootFilesystemsToken } from '../rootfs/root-filesystems.js';
import { elapsed } from '../runs/timing.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { containerRecordSchema } from '../state/record-schema.js';
import { type ContainerBundles, ContainerBundlesToken } from './container-bundles.js';
import { type ContainerDrivers, ContainerDriversToken } from './container-drivers.js';
import type { ContainerRecord, ContainerVolume } from './container-record.js';
import { commandOf, mergedConfig } from './container-spec.js';
import { type EtcRequest, extraHostLines, withResolvRequest } from './etc-files.js';
import { generateName, newContainerId, validateName } from './names.js';
import { attachmentsFromCreate, containerModePrefix, isContainerMode } from './network-attachments.js';
import { refuseOwnNetworkSettings } from './shared-network.js';
import { volumesFromBinds } from './volumes-from.js';

/**
 * `docker create`: a create request becomes a container — a name, a writable snapshot on
 * the image's layers mounted as its root filesystem, its /etc files, its OCI bundle and,
 * last, its record. A create that fails leaves nothing: every step is undone. It takes no
 * container lock: nothing can name the container before its record is saved, its last step.
 */
@injectable()
export class ContainerCreator {
  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ImageQueriesToken) private readonly images: ImageQueries,
    @inject(ImageHoldsToken) private readonly holds: ImageHolds,
    @inject(RootFilesystemsToken) private readonly rootfs: RootFilesystems,
    @inject(ContainerDriversToken) private readonly drivers: ContainerDrivers,
    @inject(ContainerBundlesToken) private readonly bundles: ContainerBundles,
    @inject(EventBusToken) private readonly events: EventBus,
    @inject(LoggerToken) private readonly log: Logger,
  ) {}

  async create(body: ContainerCreateBody, name?: string): Promise<{ Id: string; Warnings: string[] }> {
    if (!body || typeof body !== 'object') throw new InvalidArgument('config cannot be empty in order to create a container');
    if (!body.Image) throw new InvalidArgument('No image was specified: config.Image is empty');
    const began = performance.now();
    const hostConfig = body.HostConfig ?? {};
    const runtimeName = this.drivers.runtimeName(hostConfig.Runtime);
    const image = await this.images.resolveForContainer(body.Image);
    const id = newContainerId();
    const containerName = name ? validateName(name) : generateName((n) => this.store.nameTaken(n));
    const config = mergedConfig(body, image.config, id);
    const { path: entry, args } = commandOf(body, image.config);
    let networkMode = hostConfig.NetworkMode || 'default';
    const hostNetwork = this.drivers.isHostNetwork(networkMode);
    // `container:<name|id>`: the joined container's namespace, and its hostname and /etc files.
    const joined = isContainerMode(networkMode) ? this.joinedAtCreate(body, networkMode) : undefined;
    if (joined) networkMode = `${containerModePrefix}${joined.id}`;
    // A setting berth would not carry out is refused before anything is made (the spec's
    // translation checks again, with the image's config, once the rootfs is mounted).
    refuseUnsupportedSettings(body, { hostNetwork, storageDriver: this.rootfs.driverName, sizeQuota: this.rootfs.capabilities.sizeQuota });
    const logConfig = this.drivers.logConfig(hostConfig.LogConfig);
    // Containers on a user-defined network ask the embedded DNS server (127.0.0.11), as in Docker.
    const embeddedDns = !hostNetwork && this.drivers.usesEmbeddedDns(networkMode);
    const etcRequest: EtcRequest = {
      embeddedDns,
      extraHosts: hostConfig.ExtraHosts,
      dns: hostConfig.Dns,
      dnsSearch: hostConfig.DnsSearch,
      dnsOptions: hostConfig.DnsOptions,
      hostGateway: this.drivers.hostGateway(),
    };
    // Checked here, before anything is made: a malformed --add-host or --dns is the user's mistake.
    extraHostLines(etcRequest.extraHosts, etcRequest.hostGateway);
    withResolvRequest('', etcRequest);
    const networks = attachmentsFromCreate(body, networkMode, (a, b) => this.drivers.sameNetwork(a, b));
    // Aliases are names the embedded DNS server answers: a network without it (the default bridge) cannot have them.
    const aliased = networks.find((a) => a.aliases && !this.drivers.usesEmbeddedDns(a.network));
    if (aliased) throw new InvalidArgument('network-scoped alias is supported only for containers in user defined networks');
    const links = requestedLinks(body, hostNetwork, (target) => this.store.find(target) !== undefined);
    const inherited = volumesFromBinds(hostConfig.VolumesFrom, (ref) => this.store.find(ref), ownDestinations(body));
    // Inspect's Config.MacAddress: the first network's, whether asked in Config (API 1.41) or its endpoint (1.44).
    if (networks[0]?.macAddress) config.MacAddress = networks[0].macAddress;
    if (joined) config.Hostname = joined.config.Hostname;

    this.store.reserveName(containerName, id);
    // Until its record is saved, this create is the image's user an rmi must see.
    let releaseImage: () => void;
    try {
      releaseImage = this.holds.holdForCreate(image.id, id, body.Image);
    } catch (err) {
      this.store.releaseName(containerName, id);
      throw err;
    }
    let prepared = false;
    let madeVolumes: ContainerVolume[] = [];
    try {
      // The snapshot and the container's own files side by side; both settle before
      // anything can fail, so the clean-up below knows whether the snapshot exists.
      const [snapshot, etcFiles] = await Promise.allSettled([
        this.rootfs.prepare(id, image.id, {
          volatile: hostConfig.AutoRemove === true,
          sizeBytes: hostConfig.StorageOpt?.size === undefined ? undefined : storageSizeBytes(hostConfig.StorageOpt.size),
        }),
        this.bundles.writeEtc(id, config.Hostname || id.slice(0, 12), hostNetwork, etcRequest, joined?.id),
      ]);
      prepared = snapshot.status === 'fulfilled';
      if (snapshot.status === 'rejected') throw snapshot.reason;
      if (etcFiles.status === 'rejected') throw etcFiles.reason;
      const rootfsMounts = snapshot.value;
      // The rootfs stays mounted from create until the container exits: validating the
      // request reads the image's /etc/passwd, and start then needs no second mount.
      await this.rootfs.mount(id, rootfsMounts);
      // A joining container takes the joined one's hostname (refused in its own request, above).
      const ownBody = joined ? { ...body, Hostname: joined.config.Hostname } : body;
      // --volumes-from: the other containers' volumes and binds, as -v entries after its own.
      const specBody =
        inherited.length > 0 ? { ...ownBody, HostConfig: { ...hostConfig, Binds: [...(hostConfig.Binds ?? []), ...inherited] } } : ownBody;
      const spec = await this.bundles.writeBundle({
        id,
        body: specBody,
        image: image.config,
        etc: etcFiles.value,
        hostNetwork,
        sizeQuota: this.rootfs.capabilities.sizeQuota,
      });
      madeVolumes = spec.madeVolumes;
      const record: ContainerRecord = {
        schemaVersion: containerRecordSchema,
        id,
        name: containerName,
        created: new Date().toISOString(),
        imageRef: body.Image,
        imageId: image.id,
        config: { ...config, StopSignal: spec.stopSignal },
        hostConfig: {
          ...hostConfig,
          NetworkMode: hostConfig.NetworkMode ? networkMode : 'default',
          Runtime: runtimeName,
          LogConfig: logConfig,
          ...(links.length > 0 ? { Links: storedLinks(links, containerName) } : {}),
        },
        path: entry,
        args,
        storageDriver: this.rootfs.driverName,
        rootfsMounts,
        runtime: runtimeName,
        networkMode,
        state: {
          Status: 'created',
          Running: false,
          Paused: false,
          Restarting: false,
          OOMKilled: false,
          Dead: false,
          Pid: 0,
          ExitCode: 0,
          Error: '',
          StartedAt: '0001-01-01T00:00:00Z',
          FinishedAt: '0001-01-01T00:00:00Z',
        },
        restartCount: 0,
        networks,
        ...(spec.volumes.length > 0 ? { volumes: spec.volumes } : {}),
        ...(inherited.some((b) => b.startsWith('/')) ? { volumesFromBinds: inherited.filter((b) => b.startsWith('/')) } : {}),
      };
      await this.store.save(record);
      this.log.debug('container created', { id, ms: elapsed(began) });
      this.events.publish('container', 'create', id, { ...(body.Labels ?? {}), image: body.Image, name: containerName });
      return { Id: id, Warnings: spec.warnings };
    } catch (err) {
      // Unmount first: the record's removal renames the directory the rootfs is in.
      await this.rootfs.unmount(id);
      const saved = this.store.find(id);
      if (saved) await this.store.delete(saved).catch(() => undefined);
      this.store.releaseName(containerName, id);
      if (prepared) await this.rootfs.remove(id).catch(() => undefined);
      await fs.rm(this.bundles.dirOf(id), { recursive: true, force: true });
      await this.bundles.discardVolumes(madeVolumes);
      throw err;
    } finally {
      releaseImage();
    }
  }

  /**
   * The container a `container:<name|id>` mode joins, with dockerd's refusals of what
   * such a container cannot have of its own (its hostname, DNS, hosts entries, MAC,
   * published or exposed ports). The joined container must exist (its hostname and /etc
   * files are this one's); that it runs is checked at each start.
   */
  private joinedAtCreate(body: ContainerCreateBody, mode: string): ContainerRecord {
    refuseOwnNetworkSettings(body);
    const ref = mode.slice(containerModePrefix.length);
    if (!ref) throw new InvalidArgument('Invalid network mode: invalid container format container:<name|id>');
    const joined = this.store.find(ref);
    if (!joined) throw new InvalidArgument(`joining network namespace of container: No such container: ${ref}`);
    return joined;
  }
}

export const ContainerCreatorToken = token<ContainerCreator>('ContainerCreator');

/** The container paths a create mounts itself (`-v`, `Volumes`, `--tmpfs`, `--mount`), which `--volumes-from` leaves to it. */
function ownDestinations(body: ContainerCreateBody): Set<string> {
  const out = new Set<string>();
  for (const raw of body.HostConfig?.Binds ?? []) {
    try {
      out.add(parseBind(raw).destination);
    } catch {
      // A malformed entry fails the create with its own message when the spec is built.
    }
  }
  const mountTargets = (body.HostConfig?.Mounts ?? []).map((m) => m.Target ?? '').filter((t) => t !== '');
  for (const dest of [...Object.keys(body.Volumes ?? {}), ...Object.keys(body.HostConfig?.Tmpfs ?? {}), ...mountTargets]) {
    out.add(path.posix.normalize(dest));
  }
  return out;
}
