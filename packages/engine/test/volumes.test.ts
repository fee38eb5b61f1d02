import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DriverMap, type EngineEvent, EventBus, type PluginKind, silentLogger, type VolumeDriver } from '@berth/core';
import { rejectsWith } from '@berth/testkit';
import { withTimeout } from '@berth/testkit/timeout';
import { LocalVolumeDriver } from '@berth/volume-local';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResolvedEngineConfig } from '../src/config.js';
import { DriverLookup } from '../src/plugins/driver-lookup.js';
import { populateVolume } from '../src/volumes/populate-volume.js';
import { checkVolumeName } from '../src/volumes/volume-name.js';
import { VolumeService } from '../src/volumes/volume-service.js';
import { VolumeStore } from '../src/volumes/volume-store.js';

interface Rig {
  dataRoot: string;
  service: VolumeService;
  local: LocalVolumeDriver;
  users: Map<string, string[]>;
  events: EngineEvent[];
  /** A second engine's service and driver over the same data root (what a restart sees). */
  reopen(): Promise<{ service: VolumeService; local: LocalVolumeDriver }>;
}

function withRig(run: (rig: Rig) => Promise<void>): () => Promise<void> {
  return async () => {
    const dataRoot = mkdtempSync('/tmp/berth-unit-engine-volumes-');
    const users = new Map<string, string[]>();
    const events: EngineEvent[] = [];
    const build = async () => {
      const local = new LocalVolumeDriver(path.join(dataRoot, 'volumes'));
      await local.open();
      const registries = {
        volume: new DriverMap<VolumeDriver>('volume'),
        discovery: new DriverMap<unknown>('discovery'),
      } as Record<PluginKind, DriverMap<unknown>>;
      registries.volume!.add('local', local);
      const bus = new EventBus();
      bus.on('event', (e: EngineEvent) => events.push(e));
      const service = new VolumeService(
        new VolumeStore({ dataRoot } as ResolvedEngineConfig),
        new DriverLookup((kind) => registries[kind] as never),
        { usersOf: (name) => users.get(name) ?? [] },
        bus,
        silentLogger,
      );
      await service.load();
      return { service, local };
    };
    const first = await build();
    try {
      await run({ dataRoot, users, events, ...first, reopen: build });
    } finally {
      await first.local.drain();
      rmSync(dataRoot, { recursive: true, force: true });
    }
  };
}

test('volume names follow Docker\'s rule: no "/", no "..", one character is too few', () => {
  for (const good of ['ab', 'data_1', 'my-vol.2', 'A9']) checkVolumeName(good);
  for (const bad of ['a', 'a/b', '..', '../etc', '.x', '_records', '-x', 'a..b', 'a b', '']) {
    assert.throws(() => checkVolumeName(bad), /includes invalid characters for a local volume name/, bad);
  }
});

test(
  'create records the volume atomically under <data-root>/volumes/_records, with its labels and options; a repeat returns it',
  withRig(async ({ dataRoot, service, events }) => {
    const v = await service.create({ name: 'web-data', labels: { tier: 'web' } });
    assert.is(v.driver, 'local');
    assert.is(v.mountpoint, path.join(dataRoot, 'volumes', 'web-data', '_data'));
    assert.equal(v.labels, { tier: 'web' });
    assert.is(v.scope, 'local');
    const record = JSON.parse(readFileSync(path.join(dataRoot, 'volumes', '_records', 'web-data.json'), 'utf8'));
    assert.equal(record.labels, { tier: 'web' });
    assert.is(record.driver, 'local');
    const again = await service.create({ name: 'web-data' });
    assert.equal(again.labels, { tier: 'web' }, 'the first create stands');
    assert.equal(
      events.map((e) => [e.type, e.action, e.id]),
      [['volume', 'create', 'web-data']],
    );
    const anonymous = await service.create({});
    assert.match(anonymous.name, /^[0-9a-f]{64}$/);
  }),
);

test(
  'bad input: an invalid name, an unknown driver, an unknown option, a name taken by another driver: clear errors, nothing created',
  withRig(async ({ dataRoot, service }) => {
    await rejectsWith(service.create({ name: '../escape' }), 'InvalidArgument', /includes invalid characters/);
    await rejectsWith(service.create({ name: 'a/b' }), 'InvalidArgument', /includes invalid characters/);
    await rejectsWith(service.create({ name: 'x1', driver: 'nfs-nowhere' }), 'NotFound', /plugin "nfs-nowhere" not found/);
    await rejectsWith(
      service.create({ name: 'x2', options: { bogus: 'y' } }),
      'InvalidArgument',
      /invalid option for the local volume driver: "bogus"/,
    );
    assert.equal((await service.list()).length, 0);
    assert.equal(readdirSync(path.join(dataRoot, 'volumes')), ['_records']);
    assert.equal(readdirSync(path.join(dataRoot, 'volumes', '_records')), []);
  }),
);

test(
  'list filters: name, label, label!, driver, dangling; an unknown filter is refused',
  withRig(async ({ service, users }) => {
    await service.create({ name: 'app-db', labels: { app: 'shop', role: 'db' } });
    await service.create({ name: 'app-cache', labels: { app: 'shop' } });
    await service.create({ name: 'other' });
    users.set('app-db', ['c1']);
    const names = async (filters: Record<string, string[]>) => (await service.list(filters)).map((v) => v.name).sort();
    assert.equal(await names({}), ['app-cache', 'app-db', 'other']);
    assert.equal(await names({ name: ['app'] }), ['app-cache', 'app-db']);
    assert.equal(await names({ label: ['app=shop', 'role'] }), ['app-db']);
    assert.equal(await names({ label: ['app=other'] }), []);
    assert.equal(await names({ 'label!': ['role'] }), ['app-cache', 'other']);
    assert.equal(await names({ driver: ['local'] }), ['app-cache', 'app-db', 'other']);
    assert.equal(await names({ driver: ['nfs'] }), []);
    assert.equal(await names({ dangling: ['true'] }), ['app-cache', 'other']);
    assert.equal(await names({ dangling: ['0'] }), ['app-db']);
    await rejectsWith(service.list({ dangling: ['maybe'] }), 'InvalidArgument', /dangling=maybe/);
    await rejectsWith(service.list({ colour: ['red'] }), 'InvalidArgument', /invalid filter 'colour'/);
  }),
);

test(
  'a volume in use is not removed (409 naming the containers, force or not); remove deletes record and data; force ignores a missing one',
  withRig(async ({ dataRoot, service, local, users, events }) => {
    const v = await service.create({ name: 'keep' });
    writeFileSync(path.join(v.mountpoint, 'file'), 'x');
    users.set('keep', ['c1', 'c2']);
    await rejectsWith(service.remove('keep'), 'Conflict', /remove keep: volume is in use - \[c1, c2\]/);
    await rejectsWith(service.remove('keep', true), 'Conflict', /in use/);
    assert.ok(existsSync(path.join(v.mountpoint, 'file')));
    users.delete('keep');
    await service.remove('keep');
    await local.drain();
    assert.not.ok(existsSync(path.join(dataRoot, 'volumes', 'keep')));
    assert.not.ok(existsSync(path.join(dataRoot, 'volumes', '_records', 'keep.json')));
    await rejectsWith(service.get('keep'), 'NotFound', /get keep: no such volume/);
    await rejectsWith(service.remove('keep'), 'NotFound', /get keep: no such volume/);
    await service.remove('keep', true);
    assert.equal(
      events.filter((e) => e.action === 'destroy').map((e) => e.id),
      ['keep'],
    );
  }),
);

test(
  'prune removes the unused volumes the label filters match, and no others',
  withRig(async ({ service, users }) => {
    await service.create({ name: 'used', labels: { k: 'v' } });
    await service.create({ name: 'free-a', labels: { k: 'v' } });
    await service.create({ name: 'free-b' });
    users.set('used', ['c1']);
    assert.equal((await service.prune({ label: ['k=v'] })).removed, ['free-a']);
    assert.equal((await service.prune()).removed, ['free-b']);
    assert.equal(
      (await service.list()).map((v) => v.name),
      ['used'],
    );
    await rejectsWith(service.prune({ name: ['x'] }), 'InvalidArgument', /invalid filter 'name'/);
  }),
);

test(
  'records survive a restart; a driver volume whose record a crash lost is adopted back; a torn temporary record is deleted',
  withRig(async ({ dataRoot, service, local, reopen }) => {
    await service.create({ name: 'durable', labels: { a: 'b' } });
    // A create cut between the driver's volume and the engine's record.
    await local.create('orphan', {});
    writeFileSync(path.join(dataRoot, 'volumes', '_records', '.durable.json.1234.tmp'), '{"na');
    const { service: reopened } = await reopen();
    const names = (await reopened.list()).map((v) => v.name).sort();
    assert.equal(names, ['durable', 'orphan']);
    assert.equal((await reopened.get('durable')).labels, { a: 'b' });
    assert.equal(readdirSync(path.join(dataRoot, 'volumes', '_records')).sort(), ['durable.json', 'orphan.json']);
  }),
);

/** A driver that counts its mount and unmount calls, around the real local driver. */
function counting(local: LocalVolumeDriver) {
  const calls: string[] = [];
  const original = { mount: local.mount.bind(local), unmount: local.unmount.bind(local) };
  local.mount = async (name, ctx) => {
    calls.push(`mount ${name} ${ctx.containerId}`);
    return original.mount(name, ctx);
  };
  local.unmount = async (name, ctx) => {
    calls.push(`unmount ${name} ${ctx.containerId}`);
    return original.unmount(name, ctx);
  };
  return calls;
}

test(
  'the engine counts references: the driver mounts for the first holder and unmounts after the last; holders are written to the record; a volume held is in use',
  withRig(async ({ dataRoot, service, local, events }) => {
    await service.create({ name: 'shared' });
    const calls = counting(local);
    const path1 = await service.acquire('shared', { containerId: 'c1', readOnly: false });
    assert.is(path1, path.join(dataRoot, 'volumes', 'shared', '_data'));
    await service.acquire('shared', { containerId: 'c2', readOnly: true });
    await service.acquire('shared', { containerId: 'c2', readOnly: true });
    assert.equal(calls, ['mount shared c1']);
    const record = JSON.parse(readFileSync(path.join(dataRoot, 'volumes', '_records', 'shared.json'), 'utf8'));
    assert.equal(record.mountedBy, ['c1', 'c2']);
    await rejectsWith(service.remove('shared'), 'Conflict', /volume is in use - \[c1, c2\]/);
    await service.release('shared', 'c1');
    assert.equal(calls, ['mount shared c1']);
    await service.release('shared', 'c2');
    await service.release('shared', 'c2');
    assert.equal(calls, ['mount shared c1', 'unmount shared c2']);
    assert.equal(
      events.filter((e) => e.action === 'mount' || e.action === 'unmount').map((e) => `${e.action} ${e.attributes.container}`),
      ['mount c1', 'mount c2', 'mount c2', 'unmount c1', 'unmount c2'],
    );
    await service.remove('shared');
  }),
);

test(
  'a failed driver mount leaves no holder behind',
  withRig(async ({ dataRoot, service, local }) => {
    await service.create({ name: 'flaky' });
    local.mount = async () => {
      throw new Error('device busy');
    };
    await rejectsWith(service.acquire('flaky', { containerId: 'c1', readOnly: false }), 'Error', /device busy/);
    const record = JSON.parse(readFileSync(path.join(dataRoot, 'volumes', '_records', 'flaky.json'), 'utf8'));
    assert.equal(record.mountedBy, []);
    await service.remove('flaky');
  }),
);

test(
  'the reference count survives a restart: holders that no longer run are dropped (the last unmounts), running ones get their mount again',
  withRig(async ({ service, reopen }) => {
    await service.create({ name: 'gone' });
    await service.create({ name: 'alive' });
    await service.acquire('gone', { containerId: 'dead1', readOnly: false });
    await service.acquire('alive', { containerId: 'dead2', readOnly: false });
    await service.acquire('alive', { containerId: 'live1', readOnly: false });
    // A crash here: the records hold the counts. The next engine reconciles them.
    const { service: next, local: nextLocal } = await reopen();
    const calls = counting(nextLocal);
    await next.reconcileMounts((id) => id === 'live1');
    assert.equal(calls.sort(), ['mount alive live1', 'unmount gone dead1']);
    await next.remove('gone');
    await rejectsWith(next.remove('alive'), 'Conflict', /in use - \[live1\]/);
    await next.release('alive', 'live1');
    await next.remove('alive');
  }),
);

/** Make the local driver ask for Docker's per-container calls, as the adapter of Docker's volume plugins does. */
function perContainer(local: LocalVolumeDriver): void {
  Object.assign(local, { mountCalls: 'per-container' });
}

test(
  "a per-container driver (Docker's protocol) gets a mount for every holder and an unmount as each leaves, each with its container's id",
  withRig(async ({ dataRoot, service, local }) => {
    perContainer(local);
    await service.create({ name: 'remote' });
    const calls = counting(local);
    await service.acquire('remote', { containerId: 'c1', readOnly: false });
    await service.acquire('remote', { containerId: 'c2', readOnly: true });
    await service.acquire('remote', { containerId: 'c2', readOnly: true });
    assert.equal(calls, ['mount remote c1', 'mount remote c2']);
    const record = JSON.parse(readFileSync(path.join(dataRoot, 'volumes', '_records', 'remote.json'), 'utf8'));
    assert.equal(record.mountedBy, ['c1', 'c2']);
    await service.release('remote', 'c1');
    await service.release('remote', 'c1');
    await service.release('remote', 'c2');
    assert.equal(calls, ['mount remote c1', 'mount remote c2', 'unmount remote c1', 'unmount remote c2']);
    // A refused mount leaves the holders as they were.
    local.mount = async () => {
      throw new Error('plugin refused');
    };
    await service.acquire('remote', { containerId: 'c3', readOnly: false }).catch(() => undefined);
    assert.equal(JSON.parse(readFileSync(path.join(dataRoot, 'volumes', '_records', 'remote.json'), 'utf8')).mountedBy, []);
    await service.remove('remote');
  }),
);

test(
  'a per-container driver after a crash: each holder that no longer runs gets its own unmount at recovery, those still running get nothing',
  withRig(async ({ service, local, reopen }) => {
    perContainer(local);
    await service.create({ name: 'held' });
    for (const id of ['dead1', 'live1', 'dead2']) await service.acquire('held', { containerId: id, readOnly: false });
    // A crash here. The plugin process outlived berthd: it still holds the three IDs.
    const { service: next, local: nextLocal } = await reopen();
    perContainer(nextLocal);
    const calls = counting(nextLocal);
    await next.reconcileMounts((id) => id === 'live1');
    assert.equal(calls, ['unmount held dead1', 'unmount held dead2']);
    await rejectsWith(next.remove('held'), 'Conflict', /in use - \[live1\]/);
    await next.release('held', 'live1');
    assert.equal(calls, ['unmount held dead1', 'unmount held dead2', 'unmount held live1']);
    await next.remove('held');
  }),
);

test('a per-container driver found only by discovery (a Docker plugin after a restart): a run released during recovery gets its unmount, inspect its scope', async () => {
  const dataRoot = mkdtempSync('/tmp/berth-unit-engine-volumes-');
  try {
    const build = async () => {
      const local = new LocalVolumeDriver(path.join(dataRoot, 'volumes'));
      await local.open();
      Object.assign(local, { mountCalls: 'per-container', scope: 'global' });
      const registries = {
        volume: new DriverMap<VolumeDriver>('volume'),
        discovery: new DriverMap<unknown>('discovery'),
      } as Record<PluginKind, DriverMap<unknown>>;
      let asked = 0;
      registries.discovery!.add('fake', {
        kinds: ['volume'],
        find: async (_kind: string, name: string) => {
          asked++;
          return name === 'remote' ? { driver: local, description: 'a stand-in plugin' } : undefined;
        },
      });
      const service = new VolumeService(
        new VolumeStore({ dataRoot } as ResolvedEngineConfig),
        new DriverLookup((kind) => registries[kind] as never),
        { usersOf: () => [] },
        new EventBus(),
        silentLogger,
      );
      await service.load();
      return { service, local, asked: () => asked };
    };
    const first = await build();
    await first.service.create({ name: 'plugged', driver: 'remote' });
    await first.service.acquire('plugged', { containerId: 'ended', readOnly: false });
    await first.service.acquire('plugged', { containerId: 'runs', readOnly: false });
    await first.local.drain();
    // A crash; the next engine has not looked the plugin up when recovery releases the run that ended.
    const next = await build();
    assert.is(next.asked(), 0);
    const calls = counting(next.local);
    // Released in the background (discovery may wait on a hung plugin), ahead of what comes next for the volume.
    await next.service.release('plugged', 'ended');
    await next.service.acquire('plugged', { containerId: 'later', readOnly: false });
    assert.equal(calls, ['unmount plugged ended', 'mount plugged later']);
    await next.service.release('plugged', 'later');
    assert.is((await next.service.get('plugged')).scope, 'global');
    await next.service.release('plugged', 'runs');
    assert.equal(calls, ['unmount plugged ended', 'mount plugged later', 'unmount plugged later', 'unmount plugged runs']);
    await next.service.remove('plugged');
    await next.local.drain();
  } finally {
    rmSync(dataRoot, { recursive: true, force: true });
  }
});

test('a plugin that hangs at discovery holds up neither recovery nor reconciliation: they go on in the background', async () => {
  const dataRoot = mkdtempSync('/tmp/berth-unit-engine-volumes-');
  try {
    const store = new VolumeStore({ dataRoot } as ResolvedEngineConfig);
    await store.load(() => undefined);
    await store.save({
      name: 'stuck',
      driver: 'hung',
      labels: {},
      options: {},
      createdAt: new Date().toISOString(),
      anonymous: false,
      mountedBy: ['a', 'b'],
    });
    const registries = {
      volume: new DriverMap<VolumeDriver>('volume'),
      discovery: new DriverMap<unknown>('discovery'),
    } as Record<PluginKind, DriverMap<unknown>>;
    registries.discovery!.add('fake', { kinds: ['volume'], find: () => new Promise(() => undefined) });
    const service = new VolumeService(
      new VolumeStore({ dataRoot } as ResolvedEngineConfig),
      new DriverLookup((kind) => registries[kind] as never),
      { usersOf: () => [] },
      new EventBus(),
      silentLogger,
    );
    await service.load();
    const began = Date.now();
    await service.release('stuck', 'a');
    await service.reconcileMounts(() => false);
    assert.ok(Date.now() - began < 1000, `took ${Date.now() - began} ms`);
    // Nothing was dropped without its unmount: the holders stay recorded for the next try.
    assert.equal(JSON.parse(readFileSync(path.join(dataRoot, 'volumes', '_records', 'stuck.json'), 'utf8')).mountedBy, ['a', 'b']);
  } finally {
    rmSync(dataRoot, { recursive: true, force: true });
  }
});
test(
  'pre-population cut by SIGKILL: the next engine empties the half-filled volume at start; the next create fills it whole',
  withTimeout(
    30_000,
    withRig(async ({ dataRoot, reopen }) => {
      // An image directory big enough that the copy is caught in the middle: 40 directories of 250 files.
      const rootfs = path.join(dataRoot, 'rootfs');
      for (let d = 0; d < 40; d++) {
        mkdirSync(path.join(rootfs, 'app', String(d)), { recursive: true });
        for (let f = 0; f < 250; f++) writeFileSync(path.join(rootfs, 'app', String(d), String(f)), `${d} ${f}\n`);
      }
      const data = path.join(dataRoot, 'volumes', 'half', '_data');
      const record = () => JSON.parse(readFileSync(path.join(dataRoot, 'volumes', '_records', 'half.json'), 'utf8'));
      const child = spawn(
        process.execPath,
        ['-r', 'tsx/cjs', path.join(__dirname, 'support', 'populate-child.ts'), dataRoot, 'half', rootfs, '/app'],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b;
      });
      const exited = new Promise((r) => child.once('exit', r));
      // Kill it once the copy has begun and made something, before it is done.
      for (let i = 0; i < 2000 && !(out.includes('begin') && existsSync(data) && readdirSync(data).length > 0); i++)
        await new Promise((r) => setTimeout(r, 1));
      child.kill('SIGKILL');
      await exited;
      assert.not.ok(out.includes('done'), `killed before the end: ${out}`);
      assert.ok(readdirSync(data).length > 0, 'something was copied');
      assert.is(record().populating, true, 'the mark a crash leaves');

      const { service } = await reopen();
      assert.equal(readdirSync(data), [], 'emptied at start, not taken for complete');
      assert.is(record().populating, undefined);
      const copied = await service.populate('half', data, (begin) => populateVolume(rootfs, '/app', data, begin));
      assert.is(copied, 40 * 251);
      assert.is(readdirSync(data).length, 40);
      assert.is(readFileSync(path.join(data, '39', '249'), 'utf8'), '39 249\n');
      assert.is(record().populating, undefined);
    }),
  ),
);

test(
  'a pre-population that fails keeps its mark while the volume holds a part of the copy, and clears it once the volume is empty again',
  withRig(async ({ dataRoot, service }) => {
    await service.create({ name: 'failing' });
    const data = path.join(dataRoot, 'volumes', 'failing', '_data');
    const marked = () => JSON.parse(readFileSync(path.join(dataRoot, 'volumes', '_records', 'failing.json'), 'utf8')).populating;
    const halfway = async (begin: () => Promise<void>) => {
      await begin();
      writeFileSync(path.join(data, 'part'), 'x');
      throw new Error('copy failed, and so did its cleanup');
    };
    await rejectsWith(service.populate('failing', data, halfway), 'Error', /copy failed/);
    assert.is(marked(), true, 'not taken for complete');
    // The next pre-population empties it first, then copies whole.
    const whole = async (begin: () => Promise<void>) => {
      assert.equal(readdirSync(data), [], 'emptied before the copy');
      await begin();
      writeFileSync(path.join(data, 'whole'), 'w');
      return 1;
    };
    assert.is(await service.populate('failing', data, whole), 1);
    assert.is(marked(), undefined);
    assert.equal(readdirSync(data), ['whole']);
  }),
);

test.run();
