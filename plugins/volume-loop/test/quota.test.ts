// The size quota on the real kernel: writing past it is ENOSPC and loses nothing written
// before; the file stays sparse; unmount detaches the loop device it attached.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LoopVolumeDriver, loopDevicesUnder } from '../src/index.js';
import { attachLoop, detachLoop } from '../src/loop-devices.js';

let dir = '';
let driver: LoopVolumeDriver;
const ctx = { containerId: 'quota-test', readOnly: false };

test.before.each(async () => {
  dir = await fs.mkdtemp('/tmp/berth-unit-volume-loop-quota-');
  driver = await new LoopVolumeDriver(path.join(dir, 'state')).open();
});
test.after.each(async () => {
  for (const v of await driver.list()) {
    await driver.unmount(v.name, ctx).catch(() => {});
    await driver.remove(v.name).catch(() => {});
  }
  for (const loop of await loopDevicesUnder(dir)) await detachLoop(loop.device);
  await fs.rm(dir, { recursive: true, force: true });
});

test('writing past size= is ENOSPC; what was written before is intact, after a remount too', async () => {
  await driver.create('quota', { size: '16M' });
  const where = await driver.mount('quota', ctx);
  const kept = Buffer.alloc(4 * 1024 * 1024, 7);
  await fs.writeFile(path.join(where, 'kept.bin'), kept);
  const digest = createHash('sha256').update(kept).digest('hex');
  let code: string | undefined;
  try {
    await fs.writeFile(path.join(where, 'big.bin'), Buffer.alloc(32 * 1024 * 1024, 1));
  } catch (err) {
    code = (err as NodeJS.ErrnoException).code;
  }
  assert.is(code, 'ENOSPC');
  const big = await fs.stat(path.join(where, 'big.bin'));
  assert.ok(big.size < 16 * 1024 * 1024, `big.bin reached ${big.size} bytes`);
  await driver.unmount('quota', ctx);
  assert.equal(await loopDevicesUnder(dir), [], 'unmount detached its loop device');
  const again = await driver.mount('quota', ctx);
  const read = await fs.readFile(path.join(again, 'kept.bin'));
  assert.is(createHash('sha256').update(read).digest('hex'), digest);
  await driver.unmount('quota', ctx);
});

test('the default size is 1 GiB, sparse: the backing file takes a few MiB; status says so', async () => {
  const v = await driver.create('sparse', {});
  assert.is((v.status as { size: number }).size, 1024 ** 3);
  const allocated = (v.status as { allocated: number }).allocated;
  assert.ok(allocated < 64 * 1024 * 1024, `allocated ${allocated} bytes`);
  const image = path.join(dir, 'state', 'sparse', 'berth-loop-sparse.img');
  assert.is((await fs.stat(image)).size, 1024 ** 3);
});

test('a loop device left attached without its mount (a kill between the two) is detached at open; a mount left is kept', async () => {
  await driver.create('left', { size: '16M' });
  await driver.create('held', { size: '16M' });
  const held = await driver.mount('held', ctx);
  await fs.writeFile(path.join(held, 'f'), 'x');
  const image = path.join(dir, 'state', 'left', 'berth-loop-left.img');
  const stray = await attachLoop(image);
  assert.ok((await loopDevicesUnder(dir)).some((l) => l.device === stray));
  driver = await new LoopVolumeDriver(path.join(dir, 'state')).open();
  const after = await loopDevicesUnder(dir);
  assert.not.ok(
    after.some((l) => l.device === stray),
    'the stray device is detached',
  );
  assert.is(after.length, 1, 'the mounted one stays');
  assert.is(await fs.readFile(path.join(await driver.mount('held', ctx), 'f'), 'utf8'), 'x');
  await driver.unmount('held', ctx);
  assert.equal(await loopDevicesUnder(dir), []);
});

test.run();
