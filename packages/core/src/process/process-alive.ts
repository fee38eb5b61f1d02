import { readFileSync } from 'node:fs';

/**
 * True while `pid` is a process that has not exited; a zombie (exited, not yet reaped by
 * its parent) has. What a pid file or a lock file naming a process is checked with
 * (berthd's pid file, the storage migration's lock).
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": the state follows the last parenthesis (comm may hold any character).
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false; // gone between the two looks
  }
}
