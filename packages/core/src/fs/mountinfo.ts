import { readFileSync } from 'node:fs';

/**
 * One line of /proc/self/mountinfo, the fields berth needs. Read here (a file, no
 * syscall of its own) so that core's BackgroundRemoval and @berth/native share it.
 */
export interface MountInfoEntry {
  id: number;
  parentId: number;
  /** Where it is mounted, unescaped. */
  mountPoint: string;
  fstype: string;
  source: string;
  /** The filesystem's own options (`rw,cpuset`, `rw,name=systemd`), comma-separated. */
  superOptions: string;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The mount table of this process's mount namespace, in kernel order (parents before children). */
export function readMountInfo(): MountInfoEntry[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep < 0) continue;
    entries.push({
      id: Number(fields[0]),
      parentId: Number(fields[1]),
      mountPoint: unescapeOctal(fields[4]!),
      fstype: fields[sep + 1] ?? '',
      source: unescapeOctal(fields[sep + 2] ?? ''),
      superOptions: fields[sep + 3] ?? '',
    });
  }
  return entries;
}

/**
 * The mount points of the cgroup hierarchies that tell a service's processes: every
 * cgroup2 mount and the v1 `name=systemd` one, each hierarchy once (a hierarchy mounted
 * twice shows the same filesystem options; the first mount point is taken). A process
 * that must outlive berthd (a shim, a mount helper) moves out of berthd's cgroup in these,
 * so a service manager stopping berthd does not kill it.
 */
export function trackingHierarchies(mounts: MountInfoEntry[]): string[] {
  const seen = new Set<string>();
  const roots: string[] = [];
  for (const m of mounts) {
    const tracking = m.fstype === 'cgroup2' || (m.fstype === 'cgroup' && m.superOptions.split(',').includes('name=systemd'));
    const key = `${m.fstype} ${m.superOptions}`;
    if (!tracking || seen.has(key)) continue;
    seen.add(key);
    roots.push(m.mountPoint);
  }
  return roots;
}
