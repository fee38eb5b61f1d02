import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { isBerthError, silentLogger } from '@berth/core';
import { connectVolumePlugin, DockerPluginDiscovery, RemoteVolumeDriver } from '@berth/discovery-docker';
import { errorOf } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

/**
 * The volume adapter against test/fixtures/remote-volume-plugin.py, a Docker volume
 * plugin written in Python from the protocol, on a socket in a directory of this test's
 * own: every method, the plugin's refusals as core's errors, per-container Mount/Unmount
 * with their IDs (read back from the plugin's call log), and the faults: a call that
 * hangs, a plugin that crashes mid-call, a socket that vanishes and comes back.
 */
const fixture = path.resolve(__dirname, '../../../test/fixtures/remote-volume-plugin.py');

interface Rig {
  dir: string;
  socket: string;
  root: string;
  /** Every call the plugin received, in order: "Mount v1 c1". */
  calls(): string[];
  /** Start (again) the plugin process on the same socket and root. */
  start(): Promise<void>;
  /** SIGKILL the plugin and delete its socket, as a plugin that went away. */
  stop(): Promise<void>;
}

/** Whether something accepts connections on the UNIX socket `socket` now. */
function accepts(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

function withPlugin(run: (rig: Rig) => Promise<void>, scope: 'local' | 'global' = 'local'): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync('/tmp/berth-unit-discovery-volume-');
    const socket = path.join(dir, 'pyvol.sock');
    const root = path.join(dir, 'volumes');
    const log = path.join(dir, 'calls.log');
    let child: ChildProcess | undefined;
    let stderr = '';
    const rig: Rig = {
      dir,
      socket,
      root,
      calls: () =>
        existsSync(log)
          ? readFileSync(log, 'utf8')
              .trim()
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l) as { method: string; Name?: string; ID?: string })
              .filter((c) => c.method !== 'Activate' && c.method !== 'Capabilities')
              .map((c) => [c.method, c.Name, c.ID].filter(Boolean).join(' '))
          : [],
      start: async () => {
        child = spawn('python3', [fixture, '--socket', socket, '--root', root, '--log', log, '--scope', scope], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        child.stderr?.on('data', (d) => (stderr += d));
        // Until it accepts, not until its socket exists: the file is made at bind, before the listen.
        for (let i = 0; i < 200 && !(await accepts(socket)); i++) await new Promise((r) => setTimeout(r, 10));
        assert.ok(await accepts(socket), `the Python plugin did not start: ${stderr}`);
      },
      stop: async () => {
        const c = child;
        if (c && c.exitCode === null && c.signalCode === null) {
          const exited = new Promise((r) => c.once('exit', r));
          c.kill('SIGKILL');
          await exited;
        }
        rmSync(socket, { force: true });
      },
    };
    try {
      await rig.start();
      await run(rig);
    } finally {
      await rig.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'connectVolumePlugin: activation, Capabilities Scope, Create/Get/List/Remove, and the plugin refusals as NotFound, InvalidArgument and Conflict',
  withPlugin(async ({ socket, root, calls }) => {
    const driver = await connectVolumePlugin(socket, { timeoutMs: 2000 });
    assert.instance(driver, RemoteVolumeDriver);
    assert.is(driver.name, 'pyvol');
    assert.is(driver.scope, 'global');
    assert.is(driver.mountCalls, 'per-container');

    const made = await driver.create('v1', {});
    assert.is(made.name, 'v1');
    assert.is(made.mountpoint, path.join(root, 'v1', 'data'));
    assert.match(made.createdAt ?? '', /^\d{4}-\d\d-\d\dT/);
    assert.equal(made.status, { mounts: 0 });
    assert.equal(await driver.create('v1', {}), made, 'a repeated create returns the volume');
    assert.equal(
      (await driver.list()).map((v) => [v.name, v.mountpoint]),
      [['v1', path.join(root, 'v1', 'data')]],
    );

    const badOption = await errorOf(driver.create('v2', { size: '1G' }));
    assert.ok(isBerthError(badOption, 'InvalidArgument'), String(badOption));
    assert.is(badOption.message, 'plugin pyvol: VolumeDriver.Create: unknown option "size"');
    assert.equal(
      (await driver.list()).map((v) => v.name),
      ['v1'],
      'nothing made',
    );

    const unknown = await errorOf(driver.get('nosuch'));
    assert.ok(isBerthError(unknown, 'NotFound'), String(unknown));
    assert.is(unknown.message, 'plugin pyvol: VolumeDriver.Get: no such volume: nosuch');
    assert.ok(isBerthError(await errorOf(driver.remove('nosuch')), 'NotFound'));

    await driver.mount('v1', { containerId: 'c1', readOnly: false });
    const busy = await errorOf(driver.remove('v1'));
    assert.ok(isBerthError(busy, 'Conflict'), String(busy));
    assert.is(busy.message, 'plugin pyvol: VolumeDriver.Remove: volume v1 is in use by c1');
    await driver.unmount('v1', { containerId: 'c1', readOnly: false });
    await driver.remove('v1');
    assert.equal(await driver.list(), []);
    assert.equal(calls(), [
      'Create v1',
      'Get v1',
      'Create v1',
      'Get v1',
      'List',
      'Create v2',
      'List',
      'Get nosuch',
      'Remove nosuch',
      'Mount v1 c1',
      'Remove v1',
      'Unmount v1 c1',
      'Remove v1',
      'List',
    ]);
  }, 'global'),
);

test(
  'Mount and Unmount go to the plugin once per caller, each with its ID; the Mountpoint is what the plugin answered',
  withPlugin(async ({ socket, root, calls }) => {
    const driver = await connectVolumePlugin(socket, { timeoutMs: 2000 });
    assert.is(driver.scope, 'local');
    await driver.create('shared', {});
    const p1 = await driver.mount('shared', { containerId: 'aaa', readOnly: false });
    const p2 = await driver.mount('shared', { containerId: 'bbb', readOnly: true });
    assert.is(p1, path.join(root, 'shared', 'data'));
    assert.is(p2, p1);
    writeFileSync(path.join(p1, 'hello'), 'from aaa');
    assert.equal((await driver.get('shared')).status, { mounts: 2 });
    await driver.unmount('shared', { containerId: 'aaa', readOnly: false });
    // An ID the plugin does not hold: its refusal, with its message.
    const stray = await errorOf(driver.unmount('shared', { containerId: 'aaa', readOnly: false }));
    assert.ok(isBerthError(stray, 'SystemError'), String(stray));
    assert.is(stray.message, 'plugin pyvol: VolumeDriver.Unmount: volume shared is not mounted by aaa');
    await driver.unmount('shared', { containerId: 'bbb', readOnly: true });
    assert.is(readFileSync(path.join(root, 'shared', 'data', 'hello'), 'utf8'), 'from aaa');
    assert.equal(calls().slice(2), [
      'Mount shared aaa',
      'Mount shared bbb',
      'Get shared',
      'Unmount shared aaa',
      'Unmount shared aaa',
      'Unmount shared bbb',
    ]);
    await driver.remove('shared');
  }),
);

test(
  'a call that hangs fails after the timeout with an error naming the plugin, the call and the limit',
  withPlugin(async ({ socket }) => {
    const driver = await connectVolumePlugin(socket, { timeoutMs: 300 });
    await driver.create('stuck', { hang: 'Mount' });
    const began = Date.now();
    const err = await errorOf(driver.mount('stuck', { containerId: 'c1', readOnly: false }));
    const took = Date.now() - began;
    assert.ok(isBerthError(err, 'SystemError'), String(err));
    assert.match(err.message, `plugin pyvol did not answer VolumeDriver.Mount within 300 ms (unix://${socket})`);
    assert.ok(took >= 280 && took < 2000, `took ${took} ms`);
    // The plugin still answers the calls that do not hang.
    assert.is((await driver.get('stuck')).name, 'stuck');
    await driver.remove('stuck');
  }),
);

test(
  'a plugin that crashes mid-call, and a socket that vanishes and comes back: clear errors, then the next call works and the volume is still there',
  withPlugin(async ({ socket, root, start, stop, calls }) => {
    const driver = await connectVolumePlugin(socket, { timeoutMs: 2000 });
    await driver.create('fragile', { crash: 'Mount' });
    await driver.create('kept', {});
    writeFileSync(path.join(root, 'kept', 'data', 'f'), 'data');
    const crashed = await errorOf(driver.mount('fragile', { containerId: 'c1', readOnly: false }));
    assert.ok(isBerthError(crashed, 'SystemError'), String(crashed));
    assert.match(crashed.message, `plugin pyvol closed the connection during VolumeDriver.Mount without answering (unix://${socket})`);
    await stop();
    const gone = await errorOf(driver.get('kept'));
    assert.ok(isBerthError(gone, 'SystemError'), String(gone));
    assert.match(gone.message, `plugin pyvol is not running (nothing answers on unix://${socket}`);
    await start();
    assert.is(await driver.mount('kept', { containerId: 'c2', readOnly: false }), path.join(root, 'kept', 'data'));
    assert.is(readFileSync(path.join(root, 'kept', 'data', 'f'), 'utf8'), 'data');
    await driver.unmount('kept', { containerId: 'c2', readOnly: false });
    assert.equal(
      (await driver.list()).map((v) => v.name),
      ['fragile', 'kept'],
    );
    assert.ok(calls().includes('Mount fragile c1'), 'the crashing call reached the plugin');
  }),
);

test(
  "discovery: a VolumeDriver plugin's socket is found for the volume kind, not for network; a plugin that is not running is named",
  withPlugin(async ({ dir, socket }) => {
    const discovery = new DockerPluginDiscovery({ socketDirs: [dir], specDirs: [], timeoutMs: 2000, log: silentLogger });
    assert.ok(discovery.kinds.includes('volume'));
    const found = await discovery.find('volume', 'pyvol');
    assert.ok(found);
    assert.instance(found.driver, RemoteVolumeDriver);
    assert.is(found.description, `Docker VolumeDriver plugin at unix://${socket}`);
    assert.is(await discovery.find('network', 'pyvol'), undefined, 'it implements VolumeDriver only');
    assert.is(await discovery.find('volume', 'nosuch'), undefined);
    // A spec file naming a socket nobody serves.
    const specs = path.join(dir, 'specs');
    await import('node:fs/promises').then((fs) => fs.mkdir(specs));
    writeFileSync(path.join(specs, 'dead.spec'), `unix://${path.join(dir, 'dead.sock')}\n`);
    const withSpecs = new DockerPluginDiscovery({ socketDirs: [dir], specDirs: [specs], timeoutMs: 2000, log: silentLogger });
    const dead = await errorOf(withSpecs.find('volume', 'dead'));
    assert.match(dead.message, 'plugin dead is not running');
  }),
);

test.run();
