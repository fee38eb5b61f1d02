import { hasExited, readProcStat } from './proc-stat.js';

/**
 * True while `pid` is a process that has not exited; a zombie (exited, not yet reaped by
 * its parent) has. What a pid file or a lock file naming a process is checked with
 * (berthd's pid file, the storage migration's lock).
 */
export function processAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== null && !hasExited(stat);
}
