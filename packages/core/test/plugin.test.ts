import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { definePlugin, isPluginManifest, PluginSkipped } from '../src/index.js';

test('definePlugin returns a frozen manifest that isPluginManifest recognises', () => {
  const m = definePlugin({
    kind: 'storage',
    name: 'demo',
    description: 'd',
    init: () => {
      throw new PluginSkipped('no');
    },
  });
  assert.ok(Object.isFrozen(m));
  assert.ok(isPluginManifest(m));
  assert.not.ok(isPluginManifest({ kind: 'storage', name: 'x' }));
});

test('definePlugin rejects an unknown kind with a message naming it', () => {
  assert.throws(
    () => definePlugin({ kind: 'bogus' as 'storage', name: 'x', description: '', init: () => ({}) as never }),
    /unknown kind "bogus"/,
  );
});

test('definePlugin rejects a bad name', () => {
  assert.throws(() => definePlugin({ kind: 'network', name: 'Has Space', description: '', init: () => ({}) as never }), /must match/);
});

test.run();
