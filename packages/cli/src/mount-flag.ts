import type { MountRequest } from '@berth/core';
import { ramInBytes } from './format/units.js';

/**
 * `--mount` (docker's CSV of key=value fields) as the `HostConfig.Mounts` entry the docker
 * CLI sends: `type` (volume when absent, as docker's), `source`/`src`, `target`/`dst`/
 * `destination`, `readonly`/`ro` (bare or with a boolean), `consistency`,
 * `bind-propagation`, `bind-nonrecursive`, `volume-driver`, `volume-label`, `volume-opt`,
 * `volume-nocopy`, `tmpfs-size` (bytes with a unit), `tmpfs-mode` (octal). Throws an
 * Error with docker's words for a field it does not know, a missing target, a bad value
 * or options of another type; what the daemon checks (an absolute target, a bind source
 * that exists) is left to the daemon. `cwd` makes a relative `./` source absolute.
 */
export function parseMountFlag(value: string, cwd: string): MountRequest {
  const mount: MountRequest = { Type: 'volume' };
  // Each options object exists once a field of its kind is given (docker's "cannot mix" checks read that).
  const volumeOptions = () => {
    mount.VolumeOptions ??= {};
    return mount.VolumeOptions;
  };
  const driverConfig = () => {
    const v = volumeOptions();
    v.DriverConfig ??= {};
    return v.DriverConfig;
  };
  const bindOptions = () => {
    mount.BindOptions ??= {};
    return mount.BindOptions;
  };
  const tmpfsOptions = () => {
    mount.TmpfsOptions ??= {};
    return mount.TmpfsOptions;
  };
  const labels = () => {
    const v = volumeOptions();
    v.Labels ??= {};
    return v.Labels;
  };
  const driverOptions = () => {
    const d = driverConfig();
    d.Options ??= {};
    return d.Options;
  };
  for (const field of csvFields(value)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') mount.ReadOnly = true;
      else if (key === 'volume-nocopy') volumeOptions().NoCopy = true;
      else if (key === 'bind-nonrecursive') bindOptions().NonRecursive = true;
      else throw new Error(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    const val = field.slice(eq + 1);
    const bad = () => new Error(`invalid value for ${key}: ${val}`);
    switch (key) {
      case 'type':
        mount.Type = val.toLowerCase();
        break;
      case 'source':
      case 'src':
        mount.Source = val === '.' || val.startsWith('./') ? absolute(cwd, val) : val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        mount.Target = val;
        break;
      case 'readonly':
      case 'ro':
        mount.ReadOnly = parseBool(val, bad);
        break;
      case 'consistency':
        mount.Consistency = val.toLowerCase();
        break;
      case 'bind-propagation':
        bindOptions().Propagation = val.toLowerCase();
        break;
      case 'bind-nonrecursive':
        bindOptions().NonRecursive = parseBool(val, bad);
        break;
      case 'volume-driver':
        driverConfig().Name = val;
        break;
      case 'volume-label':
        setPair(labels(), val);
        break;
      case 'volume-opt':
        setPair(driverOptions(), val);
        break;
      case 'volume-nocopy':
        volumeOptions().NoCopy = parseBool(val, bad);
        break;
      case 'tmpfs-size':
        try {
          tmpfsOptions().SizeBytes = ramInBytes(val);
        } catch {
          throw bad();
        }
        break;
      case 'tmpfs-mode':
        if (!/^[0-7]+$/.test(val) || Number.parseInt(val, 8) > 0xffffffff) throw bad();
        tmpfsOptions().Mode = Number.parseInt(val, 8);
        break;
      default:
        throw new Error(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!mount.Type) throw new Error('type is required');
  if (!mount.Target) throw new Error('target is required');
  if (mount.VolumeOptions && mount.Type !== 'volume') throw new Error(`cannot mix 'volume-*' options with mount type '${mount.Type}'`);
  if (mount.BindOptions && mount.Type !== 'bind') throw new Error(`cannot mix 'bind-*' options with mount type '${mount.Type}'`);
  if (mount.TmpfsOptions && mount.Type !== 'tmpfs') throw new Error(`cannot mix 'tmpfs-*' options with mount type '${mount.Type}'`);
  return mount;
}

/** The fields of one CSV record: commas separate, double quotes group (`""` is a quote), as Go's encoding/csv reads docker's flag. */
function csvFields(text: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        current += '"';
        i++;
      } else if (c === '"') quoted = false;
      else current += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(current);
      current = '';
    } else current += c;
  }
  if (quoted) throw new Error(`parse error on line 1: extraneous or missing " in quoted-field`);
  fields.push(current);
  return fields;
}

/** Go's strconv.ParseBool. */
function parseBool(val: string, bad: () => Error): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(val)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(val)) return false;
  throw bad();
}

/** `key=value` into `map` (a bare key gets ""), as docker's volume-label and volume-opt. */
function setPair(map: Record<string, string>, pair: string): void {
  const eq = pair.indexOf('=');
  if (eq < 0) map[pair] = '';
  else map[pair.slice(0, eq)] = pair.slice(eq + 1);
}

function absolute(cwd: string, p: string): string {
  const { resolve } = require('node:path') as typeof import('node:path');
  return resolve(cwd, p);
}
