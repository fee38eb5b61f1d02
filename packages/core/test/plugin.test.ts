import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DriverMap,
  definePlugin,
  isBerthError,
  isPluginKind,
  isPluginManifest,
  PluginSkipped,
  pluginKinds,
  pluginKindTable,
  type Runtime,
  requiredPlugins,
} from '../src/index.js';

test('definePlugin returns a frozen manifest that isPluginManifest recognises', () => {
  const m = definePlugin({
    kind: 'storage',
    name: 'demo',
    description: 'd',
    requires: ['runtime/runc', 'network'],
    init: () => {
      throw new PluginSkipped('no');
    },
  });
  assert.ok(Object.isFrozen(m));
  assert.ok(Object.isFrozen(m.requires));
  assert.ok(isPluginManifest(m));
  assert.not.ok(isPluginManifest({ kind: 'storage', name: 'x' }));
  assert.not.ok(isPluginManifest({ kind: 'storage', name: 'x', init() {}, requires: 'network' }));
  // A kind this copy does not know is still a manifest: the host reports it, the loader does not refuse it.
  assert.ok(isPluginManifest({ kind: 'ipam', name: 'x', description: '', init() {} }));
});

test('definePlugin rejects an unknown kind with a message naming it', () => {
  assert.throws(
    () => definePlugin({ kind: 'bogus' as 'storage', name: 'x', description: '', init: () => ({}) as never }),
    /unknown kind "bogus"/,
  );
});

test('definePlugin rejects a bad name and a bad requirement', () => {
  assert.throws(() => definePlugin({ kind: 'network', name: 'Has Space', description: '', init: () => ({}) as never }), /must match/);
  assert.throws(
    () => definePlugin({ kind: 'network', name: 'x', description: '', requires: ['dns/default' as 'network'], init: () => ({}) as never }),
    /plugin network\/x: requirement "dns\/default" must be a kind \(storage, network, volume, runtime, ipam, discovery\) or <kind>\/<name>/,
  );
});

test('the kind table has a row per kind, storage the one kind the engine chooses one driver of', () => {
  assert.equal(pluginKinds, ['storage', 'network', 'volume', 'runtime', 'ipam', 'discovery']);
  assert.equal(
    pluginKinds.filter((k) => pluginKindTable[k].use === 'one'),
    ['storage'],
  );
  assert.equal(pluginKindTable.storage.priority, ['overlay', 'btrfs', 'fuse', 'vfs']);
  assert.ok(isPluginKind('runtime'));
  assert.not.ok(isPluginKind('toString'));
});

test('requiredPlugins reaches what was declared and refuses the rest, naming it', () => {
  const runtimes = new Map<string, Runtime>([
    ['runc', { name: 'runc' } as Runtime],
    ['crun', { name: 'crun' } as Runtime],
  ]);
  const byName = requiredPlugins('network/x', ['runtime/runc'], (kind) => (kind === 'runtime' ? runtimes : undefined));
  assert.is(byName.get('runtime', 'runc').name, 'runc');
  assert.throws(() => byName.get('runtime', 'crun'), /plugin network\/x reached runtime\/crun, which it did not declare in requires/);
  assert.throws(
    () => byName.all('runtime'),
    /reached every runtime plugin, which it did not declare in requires \(add 'runtime'; declared: runtime\/runc\)/,
  );
  const byKind = requiredPlugins('network/x', ['runtime'], (kind) => (kind === 'runtime' ? runtimes : undefined));
  assert.equal([...byKind.all('runtime').keys()], ['runc', 'crun']);
  const missing = (() => {
    try {
      byKind.get('runtime', 'kata');
    } catch (err) {
      return err;
    }
  })();
  assert.ok(isBerthError(missing, 'NotFound'), String(missing));
  assert.match((missing as Error).message, 'no runtime plugin named kata (have: runc, crun)');
  const none = requiredPlugins('network/y', [], () => runtimes);
  assert.throws(() => none.get('runtime', 'runc'), /declared: nothing/);
});

test('DriverMap reads as a ReadonlyMap, tells its listeners, and a fixed one takes no driver after the chosen one', () => {
  const map = new DriverMap<Runtime>('runtime');
  const heard: string[] = [];
  const off = map.onChange((change, name) => heard.push(`${change} ${name}`));
  map.add('runc', { name: 'runc' } as Runtime);
  assert.throws(() => map.add('runc', { name: 'runc' } as Runtime), /a runtime driver named runc is already registered/);
  assert.equal([...map.keys()], ['runc']);
  assert.equal(
    [...map].map(([n]) => n),
    ['runc'],
  );
  assert.is(map.size, 1);
  assert.not.ok('set' in map, 'no way around add/remove');
  assert.ok(map.remove('runc'));
  assert.not.ok(map.remove('runc'));
  off();
  map.add('crun', { name: 'crun' } as Runtime);
  assert.equal(heard, ['added runc', 'removed runc']);

  const storage = new DriverMap<{ name: string }>('storage', { fixed: 'chosen at start-up' });
  storage.addChosen('vfs', { name: 'vfs' });
  const err = (() => {
    try {
      storage.add('zfs', { name: 'zfs' });
    } catch (e) {
      return e;
    }
  })();
  assert.ok(isBerthError(err, 'Forbidden'));
  assert.is((err as Error).message, 'cannot add the storage driver zfs: chosen at start-up');
});

test.run();
