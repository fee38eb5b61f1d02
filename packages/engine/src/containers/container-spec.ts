import type { ContainerConfig, ContainerCreateBody } from '@berth/core';
import {
  buildEnv,
  buildSpec,
  effectiveCommand,
  type HostFacts,
  type ImageRunConfig,
  mergeCommand,
  specInputFromDocker,
  specToJson,
  type VolumeRequest,
  volumeMount,
} from '../oci/index.js';
import type { ContainerVolume } from './container-record.js';
import type { EtcFiles } from './etc-files.js';

/** What a container's bundle needs, decided at create. */
export interface ContainerSpecRequest {
  id: string;
  /** The storage driver enforces `--storage-opt size=` (StorageCapabilities.sizeQuota). */
  sizeQuota?: boolean;
  body: ContainerCreateBody;
  image: ImageRunConfig;
  rootfs: string;
  etc: EtcFiles;
  hostNetwork: boolean;
  cgroupParent: string;
  host: HostFacts;
  /** The volume of a `-v` volume entry or VOLUME, made or found (ContainerVolumes.resolve). */
  resolveVolume: (request: VolumeRequest) => Promise<ContainerVolume>;
}

/** The bundle's config.json and what the create answer and the record need from it. */
export interface ContainerSpec {
  json: string;
  warnings: string[];
  stopSignal: string;
  /** The container's volumes, in the order of its mounts. */
  volumes: ContainerVolume[];
}

/**
 * Turn a create request into the OCI spec of its bundle. All validation of the
 * request happens here, so a bad flag fails the create before anything is kept.
 * Each volume (named `-v name:/path`, anonymous `-v /path` and image VOLUMEs) is resolved
 * by `req.resolveVolume` and bound from its host path.
 */
export async function buildContainerSpec(req: ContainerSpecRequest): Promise<ContainerSpec> {
  const result = await specInputFromDocker({
    id: req.id,
    body: req.body,
    image: req.image,
    rootfsPath: req.rootfs,
    etcFiles: req.etc,
    networkMode: req.hostNetwork ? 'host' : 'private',
    cgroupParent: req.body.HostConfig?.CgroupParent || req.cgroupParent,
    host: req.host,
    sizeQuota: req.sizeQuota === true,
  });
  const volumes: ContainerVolume[] = [];
  for (const request of result.volumes) {
    const volume = await req.resolveVolume(request);
    volumes.push(volume);
    result.input.mounts.push(volumeMount(request, volume.source));
  }
  return { json: specToJson(buildSpec(result.input)), warnings: result.warnings, stopSignal: result.stopSignal, volumes };
}

/**
 * The config inspect shows: the image's defaults merged with the request, as Docker
 * merges them (command, environment, labels, working directory, user, hostname).
 */
export function mergedConfig(body: ContainerCreateBody, image: ImageRunConfig, id: string): ContainerConfig {
  const { HostConfig: _host, NetworkingConfig: _net, ...request } = body;
  const { entrypoint, cmd } = effectiveCommand(body, image);
  const hostname = body.Hostname || id.slice(0, 12);
  return {
    ...request,
    Hostname: hostname,
    Domainname: body.Domainname ?? '',
    User: body.User || image.User || '',
    Env: shownEnv(body, image, hostname),
    Cmd: cmd.length ? cmd : null,
    Entrypoint: entrypoint.length ? entrypoint : null,
    WorkingDir: body.WorkingDir || image.WorkingDir || '',
    Labels: { ...(image.Labels ?? {}), ...(body.Labels ?? {}) },
    Volumes: { ...(image.Volumes ?? {}), ...(body.Volumes ?? {}) },
    // dockerd's union of the image's EXPOSE and the request's; absent when neither has any.
    ...exposedPorts(image.ExposedPorts, body.ExposedPorts),
    StopSignal: body.StopSignal || image.StopSignal || undefined,
    Image: body.Image,
    ...mergedHealthcheck(body.Healthcheck, image.Healthcheck),
  };
}

function exposedPorts(image: Record<string, object> | null | undefined, request: Record<string, object> | null | undefined) {
  const merged = { ...(image ?? {}), ...(request ?? {}) };
  return Object.keys(merged).length > 0 ? { ExposedPorts: merged } : {};
}

/**
 * The health check as dockerd merges it: the request's fields over the image's
 * HEALTHCHECK, a field left empty or zero taking the image's (`--health-interval` alone
 * keeps the image's test); `["NONE"]` (`--no-healthcheck`) is kept as given.
 */
function mergedHealthcheck(request: ContainerCreateBody['Healthcheck'], image: ImageRunConfig['Healthcheck']) {
  if (!request && !image) return {};
  const r = request ?? {};
  const i = image ?? {};
  const merged = {
    Test: r.Test && r.Test.length > 0 ? r.Test : (i.Test ?? undefined),
    Interval: r.Interval || i.Interval || undefined,
    Timeout: r.Timeout || i.Timeout || undefined,
    StartPeriod: r.StartPeriod || i.StartPeriod || undefined,
    Retries: r.Retries || i.Retries || undefined,
  };
  return { Healthcheck: Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) };
}

/**
 * Config.Env as inspect shows it: the process's environment (without the HOME berth
 * adds), and the request's entries without `=` kept as given, as dockerd keeps them
 * (`-e NAME` of a variable the client did not have). Such an entry unsets NAME in the
 * process, so it is never there twice.
 */
function shownEnv(body: ContainerCreateBody, image: ImageRunConfig, hostname: string): string[] {
  const env = buildEnv({ image: image.Env, request: body.Env, hostname, terminal: !!body.Tty, home: '/root' }).filter(
    (e) => !e.startsWith('HOME='),
  );
  for (const entry of body.Env ?? []) if (!entry.includes('=') && !env.includes(entry)) env.push(entry);
  return env;
}

/** The process's path and arguments, as inspect's Path and Args show them. */
export function commandOf(body: ContainerCreateBody, image: ImageRunConfig): { path: string; args: string[] } {
  const [entry, ...args] = mergeCommand(body, image);
  return { path: entry, args };
}
