import * as path from 'node:path';
import { InvalidArgument, type MountRequest } from '@berth/core';
import { type BindRequest, checkBindSource, type VolumeRequest } from './mounts.js';
import type { OciMount } from './spec-types.js';

const propagations = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);
const volumeName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** What one `--mount` (a `HostConfig.Mounts` entry) becomes: a mount for the spec, or a volume for the engine to resolve. */
export type MountRequestResult =
  | { kind: 'mount'; destination: string; mount: OciMount }
  | { kind: 'volume'; destination: string; volume: VolumeRequest };

/**
 * `docker run --mount` as dockerd reads it: `type=bind` (a host path that must exist,
 * `bind-propagation`, `bind-nonrecursive`), `type=volume` (a name, or none for an
 * anonymous volume; `volume-nocopy`, `volume-driver`, `volume-opt`, `volume-label`),
 * `type=tmpfs` (no source; `tmpfs-size`, `tmpfs-mode`), each with `readonly`. Options of
 * another type, a relative target, an unknown type are refused in dockerd's words,
 * naming the entry.
 */
export function mountRequest(m: MountRequest, pathExists?: (p: string) => boolean): MountRequestResult {
  const type = m.Type ?? '';
  const bad = (why: string): never => {
    throw new InvalidArgument(`invalid mount config for type "${type}": ${why}`);
  };
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs')
    throw new InvalidArgument(`invalid mount config: mount type unknown: "${type}"`);
  const target = m.Target ?? '';
  if (target === '') bad('field Target must not be empty');
  if (!target.startsWith('/')) bad(`invalid mount path: '${target}' mount path must be absolute`);
  // A trailing slash names the same mount point: `/x/` is `/x`.
  const destination = path.posix.normalize(target).replace(/(.)\/+$/, '$1');
  if (destination === '/') bad("invalid specification: destination can't be '/'");
  const readonly = m.ReadOnly === true;
  if (type !== 'bind' && m.BindOptions) bad(`BindOptions must not be specified`);
  if (type !== 'volume' && m.VolumeOptions) bad(`VolumeOptions must not be specified`);
  if (type !== 'tmpfs' && m.TmpfsOptions) bad(`TmpfsOptions must not be specified`);

  if (type === 'bind') {
    const source = m.Source ?? '';
    if (source === '') bad('field Source must not be empty');
    if (!source.startsWith('/')) bad(`invalid mount path: '${source}' mount path must be absolute`);
    const propagation = m.BindOptions?.Propagation || 'rprivate';
    if (!propagations.has(propagation)) bad(`invalid propagation mode: ${propagation}`);
    const bind: BindRequest = {
      kind: 'bind',
      source: path.posix.normalize(source),
      destination,
      readonly,
      propagation: propagation as BindRequest['propagation'],
      raw: `--mount type=bind,source=${source},target=${target}`,
    };
    checkBindSource(bind, pathExists);
    const options = [m.BindOptions?.NonRecursive ? 'bind' : 'rbind', ...(readonly ? ['ro'] : []), bind.propagation];
    return { kind: 'mount', destination, mount: { destination, type: 'bind', source: bind.source, options } };
  }

  if (type === 'tmpfs') {
    if (m.Source) bad('source must not be specified');
    const options = ['noexec', 'nosuid', 'nodev'];
    if (readonly) options.push('ro');
    const size = m.TmpfsOptions?.SizeBytes ?? 0;
    if (!Number.isInteger(size) || size < 0) bad(`invalid tmpfs size ${size}`);
    if (size > 0) options.push(`size=${size}`);
    const mode = m.TmpfsOptions?.Mode;
    if (mode !== undefined && mode !== 0) {
      if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) bad(`invalid tmpfs mode ${mode}`);
      options.push(`mode=${mode.toString(8)}`);
    }
    return { kind: 'mount', destination, mount: { destination, type: 'tmpfs', source: 'tmpfs', options } };
  }

  const name = m.Source ?? '';
  if (name !== '' && !volumeName.test(name)) {
    bad(`"${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
  }
  const options = m.VolumeOptions ?? {};
  const volume: VolumeRequest = {
    kind: 'volume',
    name,
    destination,
    readonly,
    nocopy: options.NoCopy === true,
    raw: `--mount type=volume,target=${target}`,
    fromVolumes: true,
    ...(options.DriverConfig?.Name ? { driver: options.DriverConfig.Name } : {}),
    ...(options.DriverConfig?.Options ? { driverOptions: { ...options.DriverConfig.Options } } : {}),
    ...(options.Labels ? { labels: { ...options.Labels } } : {}),
  };
  return { kind: 'volume', destination, volume };
}
