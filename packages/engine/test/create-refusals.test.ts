import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { type ContainerCreateBody, isBerthError, StorageDriverToken } from '@berth/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ContainerStoreToken, type Engine } from '../src/index.js';
import { startTestEngine, stopTestEngine } from './support/test-engine.js';

/**
 * A setting berth would not carry out is refused (400) and the create leaves nothing: no
 * container directory, no snapshot, no record, no event, the name still free. Through
 * the real engine with overlay and runc.
 */

interface Ctx {
  dir: string;
  engine: Engine;
  events: string[];
}
const test = suite<Ctx>('create refusals');

test.before(async (ctx) => {
  Object.assign(ctx, await startTestEngine('engine-refuse'));
  // The image's layers become snapshots at its first create: make them now, so what a
  // refused create would leave is all the tests compare.
  const warm = await ctx.engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
  await ctx.engine.containers.remove(warm.Id);
  await ctx.engine.di.resolve(ContainerStoreToken).drain();
  ctx.events = [];
  ctx.engine.events.on('event', (e) => {
    ctx.events.push(`${e.type} ${e.action}`);
  });
});

test.after((ctx) => stopTestEngine(ctx));

const refused: Array<[string, ContainerCreateBody, RegExp]> = [
  [
    '--restart always --rm',
    { HostConfig: { RestartPolicy: { Name: 'always' }, AutoRemove: true } },
    /^can't create 'AutoRemove' container with restart policy$/,
  ],
  [
    '--mount type=bind of a missing source',
    { HostConfig: { Mounts: [{ Type: 'bind', Source: '/nonexistent-berth-src', Target: '/t' }] } },
    /^invalid mount config for type "bind": bind source path does not exist: \/nonexistent-berth-src/,
  ],
  [
    '--mount type=npipe',
    { HostConfig: { Mounts: [{ Type: 'npipe', Source: 'x', Target: '/t' }] } },
    /^invalid mount config: mount type unknown: "npipe"/,
  ],
  ['--storage-opt size=1G', { HostConfig: { StorageOpt: { size: '1G' } } }, /^HostConfig\.StorageOpt: size limits are not supported/],
  ['--health-retries -1', { Healthcheck: { Test: ['CMD-SHELL', 'true'], Retries: -1 } }, /^Retries in Healthcheck cannot be negative/],
  ['--pid container:x', { HostConfig: { PidMode: 'container:x' } }, /^HostConfig\.PidMode "container:x" is not supported/],
];

for (const [what, settings, message] of refused) {
  test(`${what} is refused with a 400 naming it, and leaves nothing`, async ({ dir, engine, events }) => {
    const driver = engine.di.resolve(StorageDriverToken);
    const snapshotsBefore = (await driver.walk()).map((s) => `${s.kind} ${s.key}`).sort();
    const seen = events.length;
    const name = `refused-${refused.findIndex(([w]) => w === what)}`;
    try {
      await engine.containers.create({ Image: 'busybox', Cmd: ['true'], ...settings }, name);
      assert.unreachable('the create was accepted');
    } catch (err) {
      assert.ok(isBerthError(err, 'InvalidArgument'), String(err));
      assert.is((err as { status?: number }).status, 400);
      assert.match((err as Error).message, message);
    }
    assert.equal(readdirSync(path.join(dir, 'data/containers')), [], 'no container directory, not even one being removed');
    assert.equal((await driver.walk()).map((s) => `${s.kind} ${s.key}`).sort(), snapshotsBefore, 'no snapshot');
    assert.equal(await engine.containers.list({ all: true }), []);
    assert.equal(events.slice(seen), [], 'no event');
    // The name is free: the same create without the setting works.
    const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['true'] }, name);
    await engine.containers.remove(Id);
    await engine.di.resolve(ContainerStoreToken).drain();
  });
}

test('the settings the docker CLI sends with zero values still create', async ({ engine }) => {
  const { Id, Warnings } = await engine.containers.create({
    Image: 'busybox',
    Cmd: ['true'],
    Domainname: '',
    HostConfig: {
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      LogConfig: { Type: '', Config: {} },
      Dns: [],
      MemorySwappiness: -1,
      ConsoleSize: [0, 0],
      PortBindings: {},
    },
    NetworkingConfig: { EndpointsConfig: { default: { IPAMConfig: null, Aliases: null, MacAddress: '' } } },
  });
  assert.equal(Warnings, []);
  await engine.containers.remove(Id);
});

test.run();
