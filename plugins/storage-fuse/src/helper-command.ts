import { existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The argv prefix that runs the mount helper (MountSpec.helper): this Node and the
 * compiled entry `dist/src/mount-helper-main.js`. From the TypeScript sources (tests
 * under tsx) the compiled entry is used when it exists, else the source through tsx.
 */
export function helperCommand(): string[] {
  const compiledHere = path.join(__dirname, 'mount-helper-main.js');
  if (existsSync(compiledHere)) return [process.execPath, compiledHere];
  const compiled = path.resolve(__dirname, '..', 'dist', 'src', 'mount-helper-main.js');
  if (existsSync(compiled)) return [process.execPath, compiled];
  return [process.execPath, '--require', require.resolve('tsx/cjs'), path.join(__dirname, 'mount-helper-main.ts')];
}
