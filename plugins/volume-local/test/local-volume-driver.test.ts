import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { unmountAll } from '@berth/native';
import { pluginContext, rejectsWith } from '@berth/testkit';
import plugin, { LocalVolumeDriver } from '@berth/volume-local';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ctx = { containerId: 'c1', readOnly: false };

function withRoot(run: (dataRoot: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dataRoot = mkdtempSync('/tmp/berth-unit-volume-local-');
    try {
      await run(dataRoot);
    } finally {
      rmSync(dataRoot, { recursive: true, force: true });
    }
  };
}

test(
  'the manifest declares the volume plugin local, whose volumes live under <data-root>/volumes/<name>/_data',
  withRoot(async (dataRoot) => {
    assert.is(plugin.kind, 'volume');
    assert.is(plugin.name, 'local');
    const driver = await plugin.init(pluginContext(path.join(dataRoot, 'volume', 'local'), { dataRoot }));
    assert.instance(driver, LocalVolumeDriver);
    assert.is(driver.scope, 'local');
    const made = await driver.create('data1', {});
    assert.is(made.name, 'data1');
    assert.is(made.mountpoint, path.join(dataRoot, 'volumes', 'data1', '_data'));
    assert.is(statSync(made.mountpoint!).mode & 0o7777, 0o755);
    assert.ok(made.createdAt && !Number.isNaN(Date.parse(made.createdAt)));
  }),
);

test(
  'create is idempotent, get and list answer from disk, mount returns the data directory, remove deletes it',
  withRoot(async (dataRoot) => {
    const root = path.join(dataRoot, 'volumes');
    const driver = new LocalVolumeDriver(root);
    await driver.open();
    const a = await driver.create('alpha', {});
    writeFileSync(path.join(a.mountpoint!, 'f'), 'kept');
    const again = await driver.create('alpha', {});
    assert.is(again.mountpoint, a.mountpoint);
    assert.ok(existsSync(path.join(a.mountpoint!, 'f')), 'a second create keeps the content');
    await driver.create('beta', {});
    // What is not a volume in the root is not listed (the engine's records, leftovers).
    mkdirSync(path.join(root, '_records'));
    assert.equal((await driver.list()).map((v) => v.name).sort(), ['alpha', 'beta']);
    assert.is(await driver.mount('alpha', ctx), a.mountpoint);
    await driver.unmount('alpha', ctx);
    await driver.remove('alpha');
    await driver.drain();
    assert.not.ok(existsSync(path.join(root, 'alpha')));
    await rejectsWith(driver.get('alpha'), 'NotFound', /get alpha: no such volume/);
    await rejectsWith(driver.remove('alpha'), 'NotFound');
    await rejectsWith(driver.mount('alpha', ctx), 'NotFound');
    assert.equal(
      (await driver.list()).map((v) => v.name),
      ['beta'],
    );
  }),
);

test(
  'bad names and options are refused by name and create nothing',
  withRoot(async (dataRoot) => {
    const root = path.join(dataRoot, 'volumes');
    const driver = new LocalVolumeDriver(root);
    await driver.open();
    for (const name of ['a/b', '..', '../x', 'x', '.hidden', '_records', 'a..b']) {
      await rejectsWith(driver.create(name, {}), 'InvalidArgument', /invalid volume name/);
    }
    await rejectsWith(
      driver.create('opts', { frobnicate: '1' }),
      'InvalidArgument',
      /invalid option for the local volume driver: "frobnicate"/,
    );
    assert.equal(readdirSync(root), []);
  }),
);

test(
  'concurrent creates of one name make one volume; what a crash left (half made, half removed) goes at open',
  withRoot(async (dataRoot) => {
    const root = path.join(dataRoot, 'volumes');
    const driver = new LocalVolumeDriver(root);
    await driver.open();
    const made = await Promise.all(Array.from({ length: 8 }, () => driver.create('shared', {})));
    assert.equal(new Set(made.map((v) => v.mountpoint)).size, 1);
    assert.equal(readdirSync(root), ['shared']);
    mkdirSync(path.join(root, '.creating-half-0000', '_data'), { recursive: true });
    mkdirSync(path.join(root, '.removing-gone-0000', '_data'), { recursive: true });
    const reopened = new LocalVolumeDriver(root);
    await reopened.open();
    await reopened.drain();
    assert.equal(readdirSync(root), ['shared']);
    assert.equal(
      (await reopened.list()).map((v) => v.name),
      ['shared'],
    );
  }),
);

/** The filesystem type mounted at `target` in this mount namespace, if any. */
function fsTypeAt(target: string): string | undefined {
  const line = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === target);
  return line?.split(' - ')[1]?.split(' ')[0];
}

test(
  'type=tmpfs: mount makes a tmpfs of the given size and owner on _data, unmount undoes it, a repeated mount keeps it; remove refuses while mounted',
  withRoot(async (dataRoot) => {
    const root = path.join(dataRoot, 'volumes');
    const driver = new LocalVolumeDriver(root);
    await driver.open();
    const v = await driver.create('scratch', { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,uid=1234,mode=0750' });
    const data = v.mountpoint!;
    try {
      assert.is(fsTypeAt(data), undefined, 'nothing is mounted before mount');
      assert.is(await driver.mount('scratch', ctx), data);
      assert.is(fsTypeAt(data), 'tmpfs');
      const st = statSync(data);
      assert.is(st.uid, 1234);
      assert.is(st.mode & 0o7777, 0o750);
      writeFileSync(path.join(data, 'f'), 'x');
      assert.is(await driver.mount('scratch', { containerId: 'c2', readOnly: true }), data, 'idempotent: the mount is kept');
      assert.ok(existsSync(path.join(data, 'f')));
      assert.throws(() => writeFileSync(path.join(data, 'big'), Buffer.alloc(2 * 1024 * 1024)), /ENOSPC/);
      await rejectsWith(driver.remove('scratch'), 'Conflict', /still mounted/);
      await driver.unmount('scratch', ctx);
      assert.is(fsTypeAt(data), undefined);
      assert.not.ok(existsSync(path.join(data, 'f')), "a tmpfs volume's content goes with its unmount");
      await driver.remove('scratch');
      await driver.drain();
      assert.not.ok(existsSync(path.join(root, 'scratch')));
    } finally {
      unmountAll(data);
    }
  }),
);

test(
  'type=none,o=bind: the host directory shows in the volume while mounted; removing the volume never deletes the host directory',
  withRoot(async (dataRoot) => {
    const host = path.join(dataRoot, 'host-dir');
    mkdirSync(host);
    writeFileSync(path.join(host, 'hello'), 'from the host');
    const driver = new LocalVolumeDriver(path.join(dataRoot, 'volumes'));
    await driver.open();
    const v = await driver.create('bound', { type: 'none', device: host, o: 'bind' });
    try {
      const data = await driver.mount('bound', ctx);
      assert.is(readFileSync(path.join(data, 'hello'), 'utf8'), 'from the host');
      writeFileSync(path.join(data, 'back'), 'to the host');
      await driver.unmount('bound', ctx);
      assert.not.ok(existsSync(path.join(data, 'hello')));
      await driver.remove('bound');
      await driver.drain();
      assert.equal(readdirSync(host).sort(), ['back', 'hello']);
    } finally {
      unmountAll(v.mountpoint!);
    }
  }),
);

test.run();
