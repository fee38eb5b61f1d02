import { readFileSync } from 'node:fs';

/** The soft limit on open files (RLIMIT_NOFILE) from /proc, or undefined where it cannot be read ("unlimited" included). */
export function openFileLimit(limitsFile = '/proc/self/limits'): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync(limitsFile, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The connection limit of each API socket: `wanted`, but the sockets together hold at
 * most half the process's file descriptors, so a flood of clients can never take the
 * ones containers need (shim pipes, log files, layer extraction); never below 16. Pure.
 */
export function connectionBudget(wanted: number, sockets: number, fdLimit: number | undefined): { max: number; clipped: boolean } {
  if (fdLimit === undefined) return { max: wanted, clipped: false };
  const share = Math.max(16, Math.floor(fdLimit / 2 / Math.max(1, sockets)));
  return share < wanted ? { max: share, clipped: true } : { max: wanted, clipped: false };
}
