import type { BundleDeviceRule } from './bundle-spec.js';

/** One line of a v1 `devices.list` (`c 5:1 rwm`, `b *:* m`, `a *:* rwm`). */
interface DeviceEntry {
  type: string;
  major: string;
  minor: string;
  access: string;
}

/**
 * The `devices.deny` lines that take a created container's v1 devices cgroup back to what
 * its bundle allows: every entry of `devicesList` (the cgroup's `devices.list`) that no
 * allow rule of the bundle covers. crun adds allow rules of its own to every container
 * (`c 5:1 rwm`, the host's /dev/console, which runc and Docker deny); this removes them
 * before the container runs. An unrestricted cgroup (`a *:* rwm`: the bundle allows
 * everything, as `--privileged` does) needs nothing.
 */
export function extraDeviceDenials(devicesList: string, rules: readonly BundleDeviceRule[]): string[] {
  const entries = devicesList
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length === 3)
    .map(([type, numbers, access]) => {
      const [major = '*', minor = '*'] = numbers!.split(':');
      return { type: type!, major, minor, access: access! } satisfies DeviceEntry;
    });
  if (entries.some((e) => e.type === 'a')) return [];
  const allows = rules.filter((r) => r.allow === true);
  return entries.filter((e) => !allows.some((r) => covers(r, e))).map((e) => `${e.type} ${e.major}:${e.minor} ${e.access}`);
}

/** Whether `rule` allows all of `entry` (its type, every device it names, every access). */
function covers(rule: BundleDeviceRule, entry: DeviceEntry): boolean {
  const type = rule.type ?? 'a';
  if (type !== 'a' && type !== entry.type) return false;
  const number = (n: number | null | undefined, e: string) => n === undefined || n === null || n < 0 || String(n) === e;
  if (!number(rule.major, entry.major) || !number(rule.minor, entry.minor)) return false;
  const access = rule.access ?? 'rwm';
  return [...entry.access].every((c) => access.includes(c));
}
