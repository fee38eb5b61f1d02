import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  type AnyPluginManifest,
  definePlugin,
  type EngineEvent,
  EventBus,
  isBerthError,
  type NetworkDriver,
  type PluginKind,
  type PluginRequirement,
  PluginSkipped,
  type PluginStatus,
  pluginKindTable,
  type Runtime,
  type StorageDriver,
  silentLogger,
} from '@berth/core';
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
    defaultBridge: { name: 'berth0' },
    defaultAddressPools: [],
    logDriver: 'json-file',
    logOpts: {},
    cgroupParent: 'berth-unit',
    plugins,
    pluginConfig: {},
    logger: silentLogger,
    serverVersion: 'test',
    registry: {},
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
    assert.match(
      (err as Error).message,
      /storage driver overlay was chosen with --storage-driver, but it cannot be used here: backing filesystem lacks d_type/,
    );
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

// Fakes of the other kinds, for the order and requirement tests: plain objects again.
const fakeNetwork = (name: string, extra: { requires?: PluginRequirement[]; init?: () => NetworkDriver } = {}) =>
  definePlugin({
    kind: 'network',
    name,
    description: `fake ${name}`,
    requires: extra.requires ?? [],
    init: extra.init ?? (() => ({ name }) as NetworkDriver),
  });
const fakeRuntime = (name: string, init: () => Runtime | Promise<Runtime> = () => ({ name }) as Runtime) =>
  definePlugin({ kind: 'runtime', name, description: `fake ${name}`, init });
const statusOf = (statuses: PluginStatus[], key: string) => {
  const s = statuses.find((p) => `${p.kind}/${p.name}` === key);
  return s && [s.status, s.reason];
};

test('a plugin initialises after what it requires and reaches it through ctx.plugins', async ({ dir }) => {
  const order: string[] = [];
  const slowRunc = fakeRuntime('runc', async () => {
    await new Promise((r) => setTimeout(r, 30));
    order.push('runtime/runc');
    return { name: 'runc' } as Runtime;
  });
  const crun = fakeRuntime('crun', () => {
    order.push('runtime/crun');
    return { name: 'crun' } as Runtime;
  });
  let reached: unknown[] = [];
  const bridge = definePlugin({
    kind: 'network',
    name: 'bridge',
    description: 'needs runc by name and every runtime',
    requires: ['runtime/runc', 'runtime'],
    init: (ctx) => {
      order.push('network/bridge');
      reached = [ctx.plugins.get('runtime', 'runc').name, [...ctx.plugins.all('runtime').keys()].sort()];
      return { name: 'bridge' } as NetworkDriver;
    },
  });
  const loaded = await loadPlugins(config(dir, [bridge, fakeStorage('vfs'), slowRunc, crun]), new EventBus(), silentLogger);
  // crun is independent of the slow runc, so it does not wait for it; bridge waits for both.
  assert.equal(order, ['runtime/crun', 'runtime/runc', 'network/bridge']);
  assert.equal(reached, ['runc', ['crun', 'runc']]);
  assert.equal(statusOf(loaded.statuses, 'network/bridge'), ['ok', '']);
  assert.ok(loaded.networks.has('bridge'));
});

test('reaching a plugin that was not declared is refused, naming it', async ({ dir }) => {
  const nosy = definePlugin({
    kind: 'network',
    name: 'nosy',
    description: 'declares runc, reaches crun and all runtimes',
    requires: ['runtime/runc'],
    init: (ctx) => {
      const errors: string[] = [];
      for (const reach of [
        () => ctx.plugins.get('runtime', 'crun'),
        () => ctx.plugins.all('runtime'),
        () => ctx.plugins.get('storage', 'vfs'),
      ]) {
        try {
          reach();
          errors.push('reached');
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
      throw new Error(errors.join(' | '));
    },
  });
  const loaded = await loadPlugins(
    config(dir, [fakeStorage('vfs'), fakeRuntime('runc'), fakeRuntime('crun'), nosy]),
    new EventBus(),
    silentLogger,
  );
  const [status, reason] = statusOf(loaded.statuses, 'network/nosy')!;
  assert.is(status, 'error');
  assert.is(
    reason,
    [
      "plugin network/nosy reached runtime/crun, which it did not declare in requires (add 'runtime/crun' or 'runtime'; declared: runtime/runc)",
      "plugin network/nosy reached every runtime plugin, which it did not declare in requires (add 'runtime'; declared: runtime/runc)",
      "plugin network/nosy reached storage/vfs, which it did not declare in requires (add 'storage/vfs' or 'storage'; declared: runtime/runc)",
    ].join(' | '),
  );
});

test('a cycle skips every plugin in it with the cycle in the reason, and the engine still starts', async ({ dir }) => {
  const a = fakeNetwork('a', { requires: ['network/b'] });
  const b = fakeNetwork('b', { requires: ['network/a'] });
  const c = fakeNetwork('c', { requires: ['network/a'] });
  const self = fakeNetwork('self', { requires: ['network/self'] });
  let initialised = 0;
  const counted = (m: AnyPluginManifest): AnyPluginManifest =>
    ({
      ...m,
      init: (ctx: never) => {
        initialised++;
        return m.init(ctx);
      },
    }) as AnyPluginManifest;
  const loaded = await loadPlugins(
    config(dir, [fakeStorage('vfs'), counted(a), counted(b), counted(c), counted(self)]),
    new EventBus(),
    silentLogger,
  );
  assert.equal(statusOf(loaded.statuses, 'network/a'), ['skipped', 'requires network/b, a cycle: network/a → network/b → network/a']);
  assert.equal(statusOf(loaded.statuses, 'network/b'), ['skipped', 'requires network/a, a cycle: network/b → network/a → network/b']);
  assert.equal(statusOf(loaded.statuses, 'network/self'), ['skipped', 'requires network/self, a cycle: network/self → network/self']);
  // Outside the cycle, but waiting on it: skipped, naming the requirement and why it failed.
  assert.equal(statusOf(loaded.statuses, 'network/c'), [
    'skipped',
    'requires network/a, which was skipped: requires network/b, a cycle: network/a → network/b → network/a',
  ]);
  assert.is(initialised, 0, 'no init of a plugin in or behind a cycle runs');
  assert.is(loaded.networks.size, 0);
  assert.is(loaded.storage.name, 'vfs');
});

test('a storage candidate requiring storage is a cycle through the choice, and the choice moves on', async ({ dir }) => {
  const overlay = definePlugin({
    kind: 'storage',
    name: 'overlay',
    description: 'x',
    requires: ['storage/vfs'],
    init: () => ({ name: 'overlay' }) as StorageDriver,
  });
  const loaded = await loadPlugins(config(dir, [overlay, fakeStorage('vfs')]), new EventBus(), silentLogger);
  assert.is(loaded.storage.name, 'vfs');
  assert.equal(statusOf(loaded.statuses, 'storage/overlay'), [
    'skipped',
    'requires storage/vfs, a cycle: storage/overlay → the storage choice → storage/overlay',
  ]);
});

test('a missing, skipped or failed requirement skips the plugin with a reason naming it', async ({ dir }) => {
  const events = new EventBus();
  const skips: EngineEvent[] = [];
  events.on('plugin.skip', (e) => skips.push(e));
  const loaded = await loadPlugins(
    config(
      dir,
      [
        fakeStorage('vfs'),
        fakeStorage('overlay'),
        fakeNetwork('bridge', {
          init: () => {
            throw new PluginSkipped('no bridge module');
          },
        }),
        fakeRuntime('broken', () => {
          throw new Error('boom');
        }),
        fakeNetwork('needs-ipam', { requires: ['network/ipam'] }),
        fakeNetwork('needs-bridge', { requires: ['network/bridge'] }),
        fakeNetwork('needs-broken', { requires: ['runtime/broken'] }),
        fakeNetwork('needs-runtime', { requires: ['runtime'] }),
        fakeNetwork('needs-volume', { requires: ['volume'] }),
        fakeNetwork('needs-overlay', { requires: ['storage/overlay'] }),
        fakeNetwork('needs-storage', { requires: ['storage'], init: () => ({ name: 'ok' }) as NetworkDriver }),
      ],
      'vfs',
    ),
    events,
    silentLogger,
  );
  const s = (key: string) => statusOf(loaded.statuses, key);
  assert.equal(s('network/needs-ipam'), ['skipped', 'requires network/ipam, which is not loaded']);
  assert.equal(s('network/needs-bridge'), ['skipped', 'requires network/bridge, which was skipped: no bridge module']);
  assert.equal(s('network/needs-broken'), ['skipped', 'requires runtime/broken, which failed: boom']);
  assert.equal(s('network/needs-runtime'), ['skipped', 'requires runtime, but none initialised (runtime/broken failed: boom)']);
  assert.equal(s('network/needs-volume'), ['skipped', 'requires volume, but no volume plugin is loaded']);
  assert.equal(s('network/needs-overlay'), ['skipped', 'requires storage/overlay, which was skipped: not selected: this daemon uses vfs']);
  assert.equal(s('network/needs-storage'), ['ok', '']);
  assert.ok(skips.some((e) => e.id === 'network/needs-bridge' && /requires network\/bridge/.test(e.attributes.reason ?? '')));
});

test('a driver added at run time lands in its registry and in the statuses, with an event', async ({ dir }) => {
  const events = new EventBus();
  const seen: string[] = [];
  events.on('event', (e) => {
    if (e.type === 'plugin') seen.push(`${e.action} ${e.id}`);
  });
  const loaded = await loadPlugins(config(dir, [fakeStorage('vfs'), fakeNetwork('none')]), events, silentLogger);
  const statusesBefore = loaded.statuses;
  loaded.addDriver('network', 'weave', { name: 'weave' } as NetworkDriver, 'Docker plugin weave, found at /run/docker/plugins/weave.sock');
  assert.is(loaded.networks.get('weave')?.name, 'weave');
  assert.is(loaded.registry('network'), loaded.networks);
  assert.is(loaded.statuses, statusesBefore, 'the same array, so engine.plugins() sees it');
  assert.equal(
    loaded.statuses.filter((p) => p.kind === 'network').map((p) => [p.name, p.status, p.description]),
    [
      ['none', 'ok', 'fake none'],
      ['weave', 'ok', 'Docker plugin weave, found at /run/docker/plugins/weave.sock'],
    ],
  );
  // Straight into the registry (as a service holding it might), then out again.
  loaded.runtimes.add('kata', { name: 'kata' } as Runtime);
  assert.equal(statusOf(loaded.statuses, 'runtime/kata'), ['ok', '']);
  assert.ok(loaded.runtimes.remove('kata'));
  assert.equal(statusOf(loaded.statuses, 'runtime/kata'), ['skipped', 'removed at run time']);
  assert.equal(seen, ['enable network/weave', 'enable runtime/kata', 'disable runtime/kata']);
  // The storage driver is chosen once; another cannot be slipped in later.
  const refused = (() => {
    try {
      loaded.addDriver('storage', 'zfs', { name: 'zfs' } as StorageDriver, 'x');
    } catch (err) {
      return err;
    }
  })();
  assert.ok(isBerthError(refused, 'Forbidden'), String(refused));
  assert.throws(
    () => loaded.addDriver('network', 'none', { name: 'none' } as NetworkDriver, 'again'),
    /a network driver named none is already registered/,
  );
});

test('a kind added to the table is loaded by the host as it is, registry and statuses included', async ({ dir }) => {
  // The test-only way to add a kind: a table with one more row. definePlugin knows core's
  // kinds only, so the manifest is written out; the host needs nothing more.
  const kinds = { ...pluginKindTable, greeter: { description: 'says hello', use: 'all' as const } };
  const greeter = 'greeter' as PluginKind;
  const english = {
    kind: greeter,
    name: 'english',
    description: 'hello',
    init: () => ({ greet: () => 'hello' }),
  } as unknown as AnyPluginManifest;
  const user: AnyPluginManifest = {
    kind: 'network',
    name: 'polite',
    description: 'greets through every greeter',
    requires: [greeter],
    init: (ctx) => {
      const all = ctx.plugins.all(greeter) as unknown as ReadonlyMap<string, { greet(): string }>;
      return { name: [...all.values()].map((g) => g.greet()).join() } as NetworkDriver;
    },
  };
  const unknown = {
    kind: 'dns' as PluginKind,
    name: 'default',
    description: 'a kind this engine lacks',
    init: () => ({}),
  } as unknown as AnyPluginManifest;
  const loaded = await loadPlugins(config(dir, [fakeStorage('vfs'), english, user, unknown]), new EventBus(), silentLogger, { kinds });
  assert.is((loaded.registry(greeter) as unknown as ReadonlyMap<string, { greet(): string }>).get('english')?.greet(), 'hello');
  assert.equal(statusOf(loaded.statuses, 'greeter/english'), ['ok', '']);
  assert.is(loaded.networks.get('polite')?.name, 'hello');
  assert.equal(statusOf(loaded.statuses, 'dns/default'), [
    'error',
    'unknown plugin kind "dns" (this engine knows storage, network, volume, runtime, ipam, discovery, greeter)',
  ]);
});

test.run();
