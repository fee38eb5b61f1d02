import { execFileSync } from 'node:child_process';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { applyLayer, ImageStore, importRootfs, loadArchive } from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withTempDir } from './helpers.js';

const script = path.resolve(__dirname, '../../../test/fixtures/make-busybox-image.sh');

async function regularFileBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await fs.stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

function make(...args: string[]): string {
  return execFileSync('sh', [script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

test('the busybox fixture is reproducible, loads, unpacks and runs', () =>
  withTempDir('fixture', async (tmp) => {
    const first = path.join(tmp, 'one.tar');
    const second = path.join(tmp, 'two.tar');
    const printed = make(first);
    make(second);
    assert.equal(await fs.readFile(first), await fs.readFile(second), 'same bytes on every run');

    const store = await ImageStore.open(path.join(tmp, 'data'));
    const { images } = await loadArchive(store, createReadStream(first));
    assert.is(images.length, 1);
    assert.equal(images[0]!.repoTags, ['busybox:latest']);
    assert.match(printed, `busybox:latest ${images[0]!.id} `);
    const image = await store.get('busybox');
    assert.equal(image.config.config?.Cmd, ['sh']);
    assert.equal(image.config.config?.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    assert.is(image.layers.length, 1);

    const rootfs = path.join(tmp, 'rootfs');
    await fs.mkdir(rootfs);
    await applyLayer(rootfs, await store.content.get(image.layers[0]!.digest), { expectedDiffId: image.diffIds[0]! });
    assert.is((await fs.stat(path.join(rootfs, 'bin/busybox'))).mode & 0o777, 0o755);
    assert.equal(await fs.readFile(path.join(rootfs, 'bin/busybox')), await fs.readFile('/bin/busybox'));
    assert.is(image.size, await regularFileBytes(rootfs), 'image size = bytes of its regular files');
    assert.is(await fs.readlink(path.join(rootfs, 'bin/sh')), 'busybox');
    assert.is((await fs.stat(path.join(rootfs, 'tmp'))).mode & 0o7777, 0o1777);
    assert.is((await fs.stat(path.join(rootfs, 'root'))).mode & 0o7777, 0o700);
    for (const d of ['proc', 'sys', 'dev']) assert.equal(await fs.readdir(path.join(rootfs, d)), [], d);
    assert.is(await fs.readFile(path.join(rootfs, 'etc/hostname'), 'utf8'), '');
    assert.match(await fs.readFile(path.join(rootfs, 'etc/passwd'), 'utf8'), /^nobody:x:65534:65534:/m);
    assert.match(await fs.readFile(path.join(rootfs, 'etc/group'), 'utf8'), /^root:x:0:/m);
    // The unpacked image really runs: busybox's shell, applets through symlinks, its user database.
    const out = execFileSync('chroot', [rootfs, '/bin/sh', '-c', 'echo "$(id -un) $(ls /bin | grep -c .) $(cat /etc/hostname | wc -c)"'], {
      encoding: 'utf8',
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    const [user, count] = out.trim().split(' ');
    assert.is(user, 'root');
    assert.ok(Number(count) > 100, `applets in /bin: ${count}`);
  }));

test('the --rootfs variant is the same layer, for docker import', () =>
  withTempDir('fixture', async (tmp) => {
    const archive = path.join(tmp, 'busybox.tar');
    const rootfs = path.join(tmp, 'rootfs.tar');
    make(archive);
    const printed = make('--rootfs', rootfs);
    const store = await ImageStore.open(path.join(tmp, 'data'));
    const [loaded] = (await loadArchive(store, createReadStream(archive))).images;
    const imported = await importRootfs(store, createReadStream(rootfs), { repo: 'imported' });
    assert.equal(imported.diffIds, (await store.get(loaded!.id)).diffIds);
    assert.match(printed, `rootfs ${imported.diffIds[0]} ${rootfs}`);
    assert.throws(() => make('--rootfs'), /usage/);
  }));

test.run();
