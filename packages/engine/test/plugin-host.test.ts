import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { definePlugin, EventBus, PluginSkipped, type StorageDriver, silentLogger } from '@berth/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResolvedEngineConfig } from '../src/config.js';
import { loadPlugins } from '../src/plugins/plugin-host.js';

// These tests exercise the choice policy, so the drivers are plain objects: no kernel
// behaviour is claimed here (the storage plugins test theirs against real mounts).
const fakeStorage = (name: string, skip?: string) =>
  definePlugin({
    kind: 'storage',
    name,
    description: `fake ${name}`,
    init: () => {
      if (skip) throw new PluginSkipped(skip);
      return { name } as StorageDriver;
    },
  });

const test = suite<{ dir: string }>('plugin host');
test.before.each((ctx) => {
  ctx.dir = mkdtempSync('/tmp/berth-unit-plugins-');
});
test.after.each((ctx) => {
  rmSync(ctx.dir, { recursive: true, force: true });
});

function config(dir: string, plugins: ResolvedEngineConfig['plugins'], storageDriver?: string): ResolvedEngineConfig {
  return {
    dataRoot: path.join(dir, 'data'),
    execRoot: path.join(dir, 'exec'),
    storageDriver,
    defaultRuntime: 'runc',
    cgroupParent: 'berth-unit',
    plugins,
    pluginConfig: {},
    logger: silentLogger,
    serverVersion: 'test',
  };
}

test('an explicit choice wins over priority', async ({ dir }) => {
  const loaded = await loadPlugins(config(dir, [fakeStorage('overlay'), fakeStorage('vfs')], 'vfs'), new EventBus(), silentLogger);
  assert.is(loaded.storage.name, 'vfs');
  const overlay = loaded.statuses.find((s) => s.name === 'overlay');
  assert.is(overlay?.status, 'skipped');
  assert.match(overlay?.reason ?? '', /not selected/);
});

test('without a choice the first working driver in priority order is used, and a skip is reported with its reason', async ({ dir }) => {
  const loaded = await loadPlugins(
    config(dir, [fakeStorage('vfs'), fakeStorage('overlay', 'no overlay here')]),
    new EventBus(),
    silentLogger,
  );
  assert.is(loaded.storage.name, 'vfs');
  const overlay = loaded.statuses.find((s) => s.name === 'overlay');
  assert.equal([overlay?.status, overlay?.reason], ['skipped', 'no overlay here']);
});

test("a data root holding one driver's state keeps that driver", async ({ dir }) => {
  mkdirSync(path.join(dir, 'data/storage/vfs'), { recursive: true });
  writeFileSync(path.join(dir, 'data/storage/vfs/state'), 'x');
  const loaded = await loadPlugins(config(dir, [fakeStorage('overlay'), fakeStorage('vfs')]), new EventBus(), silentLogger);
  assert.is(loaded.storage.name, 'vfs');
});

test("a data root holding two drivers' state is an error that asks the operator to choose", async ({ dir }) => {
  for (const d of ['overlay', 'vfs']) {
    mkdirSync(path.join(dir, `data/storage/${d}`), { recursive: true });
    writeFileSync(path.join(dir, `data/storage/${d}/state`), 'x');
  }
  try {
    await loadPlugins(config(dir, [fakeStorage('overlay'), fakeStorage('vfs')]), new EventBus(), silentLogger);
    assert.unreachable('should refuse');
  } catch (err) {
    assert.match((err as Error).message, /several storage drivers \(overlay, vfs\): choose one with --storage-driver/);
  }
});

test('choosing a driver that cannot work here names it and the reason', async ({ dir }) => {
  try {
    await loadPlugins(config(dir, [fakeStorage('overlay', 'backing filesystem lacks d_type')], 'overlay'), new EventBus(), silentLogger);
    assert.unreachable('should refuse');
  } catch (err) {
    assert.match((err as Error).message, /storage driver overlay was chosen, but it cannot be used here: backing filesystem lacks d_type/);
  }
});

test('a failing runtime is recorded as error and the others still load', async ({ dir }) => {
  const broken = definePlugin({
    kind: 'runtime',
    name: 'broken',
    description: 'x',
    init: () => {
      throw new Error('boom');
    },
  });
  const loaded = await loadPlugins(config(dir, [fakeStorage('vfs'), broken]), new EventBus(), silentLogger);
  const status = loaded.statuses.find((s) => s.name === 'broken');
  assert.equal([status?.status, status?.reason], ['error', 'boom']);
  assert.is(loaded.runtimes.size, 0);
});

test('a plugin listed twice is refused', async ({ dir }) => {
  try {
    await loadPlugins(config(dir, [fakeStorage('vfs'), fakeStorage('vfs')]), new EventBus(), silentLogger);
    assert.unreachable('should refuse');
  } catch (err) {
    assert.match((err as Error).message, /plugin storage\/vfs is listed twice/);
  }
});

test.run();
