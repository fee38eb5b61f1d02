import { statSync } from 'node:fs';
import * as path from 'node:path';
import { type HostConfig, InvalidArgument } from '@berth/core';
import type { OciDevice, OciDeviceCgroupRule } from './spec-types.js';

/**
 * `--device /dev/x[:/dev/y[:rwm]]` (HostConfig.Devices): the host's device node is
 * looked up (type, major, minor, mode, owner) and recreated in the container's /dev
 * by the runtime, with a devices-cgroup rule that lets the container use it.
 */

export type DeviceRequest = NonNullable<HostConfig['Devices']>[number];

/** What the spec needs to know about a device node on the host. */
export interface HostDeviceInfo {
  type: 'c' | 'b';
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
}

/** stat(2) a host device node; throws a plain Error when it is missing or not a device. */
export function statHostDevice(p: string): HostDeviceInfo {
  const st = statSync(p);
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new Error('not a device node');
  // Linux's dev_t encoding (major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31).
  const rdev = BigInt(st.rdev);
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { type: st.isCharacterDevice() ? 'c' : 'b', major, minor, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** Devices to create and the cgroup rules that allow them. */
export function resolveDevices(
  requests: readonly DeviceRequest[] | null | undefined,
  stat: (p: string) => HostDeviceInfo = statHostDevice,
): { devices: OciDevice[]; rules: OciDeviceCgroupRule[] } {
  const devices: OciDevice[] = [];
  const rules: OciDeviceCgroupRule[] = [];
  for (const req of requests ?? []) {
    const hostPath = req.PathOnHost;
    const inContainer = req.PathInContainer || hostPath;
    const access = req.CgroupPermissions || 'rwm';
    if (!hostPath?.startsWith('/')) {
      throw new InvalidArgument(`invalid device ${JSON.stringify(hostPath)}: the host path must be absolute`);
    }
    if (!inContainer.startsWith('/')) {
      throw new InvalidArgument(`invalid device path in the container ${JSON.stringify(inContainer)}: it must be absolute`);
    }
    if (!/^(?!.*(.).*\1)[rwm]{1,3}$/.test(access)) {
      throw new InvalidArgument(`invalid device permissions ${JSON.stringify(access)} for ${hostPath}: use some of r, w, m`);
    }
    let info: HostDeviceInfo;
    try {
      info = stat(hostPath);
    } catch (err) {
      throw new InvalidArgument(`error gathering device information while adding custom device "${hostPath}": ${(err as Error).message}`);
    }
    devices.push({
      type: info.type,
      path: path.posix.normalize(inContainer),
      major: info.major,
      minor: info.minor,
      fileMode: info.mode,
      uid: info.uid,
      gid: info.gid,
    });
    rules.push({ allow: true, type: info.type, major: info.major, minor: info.minor, access });
  }
  return { devices, rules };
}
