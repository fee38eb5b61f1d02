import { runProgram } from '@berth/core';

/**
 * The `btrfs` program (Debian's btrfs-progs), one call per operation. A subvolume's
 * creation, snapshot and deletion are single ioctls the program makes for us; spawning
 * it costs a few milliseconds, small beside a container's start (bench/storage-drivers.js),
 * so the native addon gets no btrfs ioctls of its own.
 */
export const btrfs = {
  /** An empty subvolume at `dir` (its parent must exist, `dir` must not). */
  create: (dir: string) => runProgram('btrfs', ['-q', 'subvolume', 'create', dir]),
  /** A snapshot of the subvolume `source` at `dir`: writable, or read-only with `readOnly`. */
  snapshot: (source: string, dir: string, readOnly: boolean) =>
    runProgram('btrfs', ['-q', 'subvolume', 'snapshot', ...(readOnly ? ['-r'] : []), source, dir]),
  /** Delete the subvolume at `dir` (it must hold no other subvolume). */
  delete: (dir: string) => runProgram('btrfs', ['-q', 'subvolume', 'delete', dir]),
  /** Make the subvolume at `dir` read-only (a committed layer) or writable again. */
  setReadOnly: (dir: string, readOnly: boolean) => runProgram('btrfs', ['property', 'set', '-ts', dir, 'ro', String(readOnly)]),
  /** Whether the subvolume at `dir` is read-only. */
  async isReadOnly(dir: string): Promise<boolean> {
    return (await runProgram('btrfs', ['property', 'get', '-ts', dir, 'ro'])).trim() === 'ro=true';
  },
  /**
   * The paths of the subvolumes directly inside the subvolume `dir` (`list -o`: not
   * their own nested ones), absolute.
   * `subvolume list` names them from the filesystem's top level, which need not be where
   * it is mounted; `subvolume show` names `dir` the same way, so the prefix they share
   * is cut and `dir` put in its place.
   */
  async nested(dir: string): Promise<string[]> {
    const own = (await runProgram('btrfs', ['subvolume', 'show', dir])).split('\n')[0]!.trim();
    const listed = await runProgram('btrfs', ['subvolume', 'list', '-o', dir]);
    const paths: string[] = [];
    for (const line of listed.split('\n')) {
      const match = / path (.*)$/.exec(line);
      if (!match) continue;
      const rel = match[1]!.replace(/^<FS_TREE>\//, '');
      if (!rel.startsWith(`${own}/`)) continue;
      paths.push(`${dir}/${rel.slice(own.length + 1)}`);
    }
    return paths;
  },
  /** Turn quotas on for the filesystem holding `dir` (idempotent). */
  enableQuota: (dir: string) => runProgram('btrfs', ['quota', 'enable', dir]),
  /** Limit the bytes the subvolume at `dir` references (its own and shared extents). */
  limit: (dir: string, bytes: number) => runProgram('btrfs', ['qgroup', 'limit', String(bytes), dir]),
};
