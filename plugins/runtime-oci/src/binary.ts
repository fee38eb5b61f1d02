import { accessSync, constants, existsSync } from 'node:fs';
import * as path from 'node:path';

/** Directories searched after PATH: a daemon started by init often lacks the sbin ones. */
const fallbackDirs = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The absolute path of an executable named `name`, from PATH then the usual dirs; null if none. */
export function findExecutable(name: string): string | null {
  if (name.includes('/')) return isExecutable(name) ? path.resolve(name) : null;
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...fallbackDirs];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * berth-shim's path: config `shimPath`, env BERTH_SHIM, else native/shim/berth-shim of
 * the repository this package sits in (found by walking up from this file, so it works
 * from src/ under tsx and from dist/src/).
 */
export function findShim(configured?: string): string | null {
  const explicit = configured ?? process.env.BERTH_SHIM;
  if (explicit) return isExecutable(explicit) ? path.resolve(explicit) : null;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'native', 'shim', 'berth-shim');
    if (existsSync(candidate) && isExecutable(candidate)) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}
