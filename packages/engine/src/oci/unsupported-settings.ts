import { type ContainerCreateBody, type HostConfig, InvalidArgument } from '@berth/core';
import { checkHealthcheck } from '../health/health-rules.js';
import { checkLogConfig } from '../io/log-config.js';
import { portRequests } from '../networks/port-requests.js';

/**
 * The settings of a create request berth does not carry out, refused before anything is
 * built: "nothing accepted that is not done". Every field of Docker 1.41's create body is
 * either translated into the spec (from-docker.ts and the files it calls), harmless
 * metadata that dockerd itself only stores, or refused here with a 400 that names it
 * (the table in this folder's README lists all three). A later feature (volumes,
 * networks, published ports) removes its refusal from this file, as restart policies did.
 *
 * A zero value is not a request: the docker CLI sends most fields on every create with
 * `""`, `0`, `false`, `[]`, `{}` or null, and those pass.
 */
export interface SettingsContext {
  /** The container shares the host's network namespace (`--network host`). */
  hostNetwork: boolean;
  /** The storage driver's name, for the StorageOpt message; generic wording without it. */
  storageDriver?: string;
  /** The storage driver enforces size limits (StorageCapabilities.sizeQuota): `StorageOpt.size` is accepted. */
  sizeQuota?: boolean;
}

/** True for anything but Docker's zero values: undefined, null, "", 0, false, [] and {}. */
export function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === 0 || value === false) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

function notSupported(field: string, detail = ''): InvalidArgument {
  return new InvalidArgument(`${field} is not supported by berth yet${detail}`);
}

/** Fields refused whenever they are set, with what to use instead where there is something. */
const refusedHostFields: ReadonlyArray<[keyof HostConfig, string]> = [
  ['Capabilities', ' (use CapAdd and CapDrop)'],
  ['Cgroup', ''],
  ['Init', ': it has no init process'],
  ['CpusetMems', ''],
  ['CpuRealtimePeriod', ''],
  ['CpuRealtimeRuntime', ''],
  ['BlkioWeight', ''],
  ['BlkioWeightDevice', ''],
  ['BlkioDeviceReadBps', ''],
  ['BlkioDeviceWriteBps', ''],
  ['BlkioDeviceReadIOps', ''],
  ['BlkioDeviceWriteIOps', ''],
  ['DeviceCgroupRules', ' (use Devices, --device)'],
  ['DeviceRequests', ': it has no device drivers (--gpus)'],
  ['KernelMemory', ' (Docker deprecated it too)'],
  ['KernelMemoryTCP', ' (Docker deprecated it too)'],
];

/** Windows-only resources: dockerd on Linux does not apply them either. */
const windowsOnly: ReadonlyArray<keyof HostConfig> = ['CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth'];

const restartPolicies = new Set(['', 'no', 'always', 'unless-stopped', 'on-failure']);

/** Docker's checks of a restart policy (at create and update), with its messages. */
export function checkRestartPolicy(hc: Pick<HostConfig, 'RestartPolicy'>): void {
  const policy = hc.RestartPolicy?.Name ?? '';
  if (!restartPolicies.has(policy)) {
    throw new InvalidArgument(
      `invalid restart policy: unknown policy '${policy}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
    );
  }
  const count = hc.RestartPolicy?.MaximumRetryCount ?? 0;
  if (count < 0) throw new InvalidArgument('invalid restart policy: maximum retry count cannot be negative');
  if (count !== 0 && policy !== 'on-failure') {
    throw new InvalidArgument("invalid restart policy: maximum retry count can only be used with 'on-failure'");
  }
}

/** Endpoint settings a user sets; the rest of EndpointSettings is output that dockerd ignores on input. */
const endpointSettings = ['DriverOpts'] as const;

/**
 * Throws InvalidArgument naming the first setting of `body` berth would not carry out.
 * Returns warnings for settings Docker itself discards with a warning (published ports
 * on the host network).
 */
export function refuseUnsupportedSettings(body: ContainerCreateBody, ctx: SettingsContext): string[] {
  const hc: HostConfig = body.HostConfig ?? {};
  const warnings: string[] = [];

  // The container's own config.
  if (isSet(body.Domainname)) throw notSupported('Domainname');
  if (isSet(body.MacAddress) && ctx.hostNetwork) throw new InvalidArgument('conflicting options: mac-address and the network mode');
  checkHealthcheck(body.Healthcheck); // carried out by the engine's HealthMonitor (health/health-monitor.ts)
  if (body.NetworkDisabled && ctx.hostNetwork) {
    throw new InvalidArgument('Conflicting options: NetworkDisabled and the host network (NetworkMode "host")');
  }

  // Restart policy: carried out by the engine's RestartPolicies (runs/restart-policy.ts).
  checkRestartPolicy(hc);
  if (hc.AutoRemove && !['', 'no'].includes(hc.RestartPolicy?.Name ?? '')) {
    throw new InvalidArgument("can't create 'AutoRemove' container with restart policy");
  }

  // Storage.
  const storageOpts = Object.keys(hc.StorageOpt ?? {});
  if (storageOpts.includes('size') && !ctx.sizeQuota) {
    const driver = ctx.storageDriver ? `the ${ctx.storageDriver} storage driver` : "berth's storage drivers";
    throw new InvalidArgument(`HostConfig.StorageOpt: size limits are not supported by ${driver}`);
  }
  if (storageOpts.includes('size')) storageSizeBytes(hc.StorageOpt!.size!);
  const unknown = storageOpts.filter((o) => o !== 'size');
  if (unknown.length > 0) throw new InvalidArgument(`HostConfig.StorageOpt: option ${JSON.stringify(unknown[0])} is not supported`);
  for (const [field, detail] of refusedHostFields) if (isSet(hc[field])) throw notSupported(`HostConfig.${field}`, detail);
  for (const field of windowsOnly) if (isSet(hc[field])) throw new InvalidArgument(`HostConfig.${field} is supported on Windows only`);
  const swappiness = hc.MemorySwappiness ?? -1;
  if (swappiness !== -1) {
    if (swappiness < 0 || swappiness > 100) {
      throw new InvalidArgument(`invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
    }
    throw notSupported('HostConfig.MemorySwappiness');
  }
  if (isSet(hc.OomScoreAdj) && (hc.OomScoreAdj! < -1000 || hc.OomScoreAdj! > 1000)) {
    throw new InvalidArgument(`invalid value ${hc.OomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  }
  if (isSet(hc.UsernsMode) && hc.UsernsMode !== 'host') throw notSupported(`HostConfig.UsernsMode ${JSON.stringify(hc.UsernsMode)}`);
  if (isSet(hc.Isolation) && hc.Isolation !== 'default') {
    throw new InvalidArgument(`invalid HostConfig.Isolation: ${JSON.stringify(hc.Isolation)}: Linux supports only "default"`);
  }
  if (isSet(hc.CgroupnsMode) && hc.CgroupnsMode !== 'private' && hc.CgroupnsMode !== 'host') {
    throw new InvalidArgument(`invalid HostConfig.CgroupnsMode: ${JSON.stringify(hc.CgroupnsMode)} (expected "private" or "host")`);
  }

  // Logging: json-file (rotated by the shim) and none; the creator fills in the daemon's defaults (io/log-config.ts).
  if (isSet(hc.LogConfig?.Type) || isSet(hc.LogConfig?.Config))
    checkLogConfig(hc.LogConfig?.Type || 'json-file', hc.LogConfig?.Config ?? {});

  // Networking: addresses, MACs and published ports are the network's (networks/).
  // Published ports: their form is checked here; whether a host port is free is the start's answer, as in dockerd.
  portRequests(body.ExposedPorts, hc);
  const published = Object.values(hc.PortBindings ?? {}).some((bindings) => isSet(bindings));
  // dockerd discards published ports on the host network with this warning; berth does the same.
  if ((published || hc.PublishAllPorts) && ctx.hostNetwork) warnings.push('Published ports are discarded when using host network mode');
  // Several networks at create (API 1.44's rule, taken at every version): each is joined at start.
  const endpoints = Object.entries(body.NetworkingConfig?.EndpointsConfig ?? {});
  for (const [network, settings] of endpoints) {
    for (const field of endpointSettings) {
      if (isSet(settings?.[field])) throw notSupported(`NetworkingConfig.EndpointsConfig.${network}.${field}`);
    }
    for (const field of ['IPv6Address', 'LinkLocalIPs'] as const) {
      if (isSet(settings?.IPAMConfig?.[field])) throw notSupported(`NetworkingConfig.EndpointsConfig.${network}.IPAMConfig.${field}`);
    }
    if ((isSet(settings?.IPAMConfig?.IPv4Address) || isSet(settings?.MacAddress)) && ctx.hostNetwork) {
      throw new InvalidArgument('conflicting options: --ip and --mac-address need a network with addresses, not the host network');
    }
  }
  return warnings;
}

/**
 * `--storage-opt size=` as bytes: a number with an optional unit (b, k, m, g, t; binary
 * multiples, case-insensitive, as Docker's units.RAMInBytes reads it). InvalidArgument
 * naming the value otherwise.
 */
export function storageSizeBytes(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*$/i.exec(value);
  const units: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  const bytes = match ? Math.floor(Number(match[1]) * units[match[2]!.toLowerCase()]!) : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new InvalidArgument(
      `HostConfig.StorageOpt: invalid size ${JSON.stringify(value)}: a positive number of bytes, with an optional unit (k, m, g, t)`,
    );
  }
  return bytes;
}
