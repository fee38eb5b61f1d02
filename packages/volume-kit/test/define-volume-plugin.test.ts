// defineVolumePlugin: the manifest berthd loads from a package named in daemon.json.
import { promises as fs } from 'node:fs';
import { isPluginManifest } from '@berth/core';
import { pluginContext } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defineVolumePlugin, type VolumeDriver } from '../src/index.js';
import { DirectoryDriver } from './fixtures/directory-driver.js';

test('a volume manifest whose init makes the driver in the plugin root', async () => {
  const root = await fs.mkdtemp('/tmp/berth-unit-volume-kit-plugin-');
  try {
    const manifest = defineVolumePlugin({ name: 'dir', description: 'directories', create: (ctx) => new DirectoryDriver(ctx.root) });
    assert.ok(isPluginManifest(manifest));
    assert.is(manifest.kind, 'volume');
    assert.is(manifest.name, 'dir');
    const driver = await manifest.init(pluginContext(root));
    assert.is((await driver.create('v', {})).mountpoint, `${root}/v/data`);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
});

test('init refuses a driver named otherwise, one lacking a method, a bad scope: each said', async () => {
  const ctx = pluginContext('/nonexistent-unused');
  const named = defineVolumePlugin({ name: 'dir', description: 'd', create: () => ({ ...fake(), name: 'other' }) });
  assert.match(await failureOf(named.init(ctx)), /its driver is named "other"; the two must match/);
  const partial = defineVolumePlugin({
    name: 'dir',
    description: 'd',
    create: () => ({ ...fake(), unmount: undefined }) as unknown as VolumeDriver,
  });
  assert.match(await failureOf(partial.init(ctx)), /the driver lacks unmount of VolumeDriver/);
  const scoped = defineVolumePlugin({
    name: 'dir',
    description: 'd',
    create: () => ({ ...fake(), scope: 'world' }) as unknown as VolumeDriver,
  });
  assert.match(await failureOf(scoped.init(ctx)), /scope must be "local" or "global", not "world"/);
  assert.throws(() => defineVolumePlugin({ name: 'Bad Name', description: 'd', create: fake }), /plugin name "Bad Name"/);
});

async function failureOf(p: Promise<unknown> | unknown): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  return 'it succeeded';
}

function fake(): VolumeDriver {
  const no = async () => {
    throw new Error('unused');
  };
  return { name: 'dir', scope: 'local', create: no, get: no, list: no, remove: no, mount: no, unmount: no };
}

test.run();
