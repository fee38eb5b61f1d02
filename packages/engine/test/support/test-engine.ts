import { createReadStream, mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import overlay from '@berth/storage-overlay';
import { createEngine, type Engine, type EngineConfig } from '../../src/index.js';
import { removeAndAssertNoMounts } from './cleanup.js';

/** The busybox image archive scripts/setup.sh makes (test/fixtures/.cache). */
export const busyboxTar = path.resolve(__dirname, '../../../../test/fixtures/.cache/busybox.tar');

/**
 * The configuration of an engine of a test's own in `dir`: its data and exec roots inside
 * it, the cgroup parent `berth-unit-<the directory's random suffix>` (so its leftovers
 * name the test run), and overlay, runc and none unless `config` says otherwise.
 */
export function testEngineConfig(dir: string, config: Partial<EngineConfig> = {}): EngineConfig {
  return {
    dataRoot: path.join(dir, 'data'),
    execRoot: path.join(dir, 'exec'),
    cgroupParent: `berth-unit-${path.basename(dir).slice(-6)}`,
    plugins: [overlay, runc, none],
    ...config,
  };
}

/** An engine on `testEngineConfig(dir, config)`: a second opening of the same directory is a restart. */
export function openTestEngine(dir: string, config: Partial<EngineConfig> = {}): Promise<Engine> {
  return createEngine(testEngineConfig(dir, config));
}

/** A test's engine and the directory it lives in. */
export interface TestEngine {
  dir: string;
  engine: Engine;
}

/**
 * A fresh `/tmp/berth-unit-<name>-XXXXXX` with an engine in it (openTestEngine) and the
 * busybox image loaded. The directory is removed again when the engine cannot start.
 */
export async function startTestEngine(name: string, config: Partial<EngineConfig> = {}): Promise<TestEngine> {
  const dir = mkdtempSync(`/tmp/berth-unit-${name}-`);
  let engine: Engine | undefined;
  try {
    engine = await openTestEngine(dir, config);
    await engine.images.load(createReadStream(busyboxTar));
    return { dir, engine };
  } catch (err) {
    await engine?.close();
    removeAndAssertNoMounts(dir);
    throw err;
  }
}

/**
 * The end of a test's engine: every container removed (forced), the engine closed, then
 * nothing left mounted under its directory and the directory gone (removeAndAssertNoMounts),
 * that last step also when the first fail.
 */
export async function stopTestEngine({ dir, engine }: TestEngine): Promise<void> {
  try {
    for (const c of await engine.containers.list({ all: true })) await engine.containers.remove(c.Id, { force: true });
    await engine.close();
  } finally {
    removeAndAssertNoMounts(dir);
  }
}
