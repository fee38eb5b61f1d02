import { existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The argv prefix that runs the mount helper (MountSpec.helper): this Node on the
 * compiled entry `dist/src/mount-helper-main.js`, under `env -u NODE_OPTIONS` so that
 * the caller's Node options (a test's `--conditions=@berth/source`, an `--inspect`
 * port) never reach the helper. From the TypeScript sources (tests under tsx) the
 * compiled entry is used when it exists, else the source through tsx.
 */
export function helperCommand(): string[] {
  const clean = ['/usr/bin/env', '-u', 'NODE_OPTIONS', process.execPath];
  const compiledHere = path.join(__dirname, 'mount-helper-main.js');
  if (existsSync(compiledHere)) return [...clean, compiledHere];
  const compiled = path.resolve(__dirname, '..', 'dist', 'src', 'mount-helper-main.js');
  if (existsSync(compiled)) return [...clean, compiled];
  return [process.execPath, '--require', require.resolve('tsx/cjs'), path.join(__dirname, 'mount-helper-main.ts')];
}
