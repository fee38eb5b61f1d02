// berth-volume-loop killed with SIGKILL while containers hold a volume: the next process
// finds their mount IDs in the ledger, keeps the mount (one loop device, the data there),
// and unmounts and detaches only after the last recorded ID's Unmount.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { call } from '@berth/volume-kit/conformance';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loopDevicesUnder } from '../src/index.js';
import { detachLoop } from '../src/loop-devices.js';

let dir = '';
let child: ChildProcess | undefined;
const socketOf = () => path.join(dir, 'plugins', 'loop.sock');

/** The bin as an operator runs it (from source here: tsx, as the unit tests run). */
async function startServer(): Promise<void> {
  child = spawn(
    process.execPath,
    [
      '-r',
      'tsx/cjs',
      path.join(__dirname, '../src/serve-main.ts'),
      '--root',
      path.join(dir, 'root'),
      '--socket',
      socketOf(),
      '--default-size',
      '16M',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (b: Buffer) => (output += b));
  child.stderr!.on('data', (b: Buffer) => (output += b));
  for (let i = 0; i < 200 && !/serving/.test(output); i++) {
    if (child.exitCode !== null) throw new Error(`berth-volume-loop exited: ${output}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!/serving/.test(output)) throw new Error(`berth-volume-loop did not start: ${output}`);
}

async function kill(): Promise<void> {
  const c = child;
  child = undefined;
  if (!c || c.exitCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await exited;
}

test.before.each(async () => {
  dir = await fs.mkdtemp('/tmp/berth-unit-volume-loop-serve-');
});
test.after.each(async () => {
  await kill();
  for (const m of (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '')) {
    if (m.startsWith(`${dir}/`)) execFileSync('umount', [m]);
  }
  for (const loop of await loopDevicesUnder(dir)) await detachLoop(loop.device).catch(() => {});
  await fs.rm(dir, { recursive: true, force: true });
});

test('kill -9 of the serving process keeps the count: one mount, the data, the device detached after the last Unmount', async () => {
  await startServer();
  assert.equal((await call(socketOf(), 'VolumeDriver.Create', { Name: 'held', Opts: { size: '16M' } })).body, { Err: '' });
  const mounted = await call(socketOf(), 'VolumeDriver.Mount', { Name: 'held', ID: 'c1' });
  const where = String(mounted.body.Mountpoint);
  await fs.writeFile(path.join(where, 'f'), 'kept');
  await call(socketOf(), 'VolumeDriver.Mount', { Name: 'held', ID: 'c2' });
  await kill();
  assert.ok(existsSync(socketOf()), 'a killed server leaves its socket file');
  await startServer();
  assert.is((await loopDevicesUnder(dir)).length, 1, 'the mount is kept, not made twice');
  assert.equal((await call(socketOf(), 'VolumeDriver.Mount', { Name: 'held', ID: 'c3' })).body, { Mountpoint: where, Err: '' });
  assert.is(await fs.readFile(path.join(where, 'f'), 'utf8'), 'kept');
  for (const id of ['c1', 'c3']) assert.equal((await call(socketOf(), 'VolumeDriver.Unmount', { Name: 'held', ID: id })).body, { Err: '' });
  assert.is((await loopDevicesUnder(dir)).length, 1, 'c2 still holds it');
  const busy = await call(socketOf(), 'VolumeDriver.Remove', { Name: 'held' });
  assert.match(String(busy.body.Err), /in use/);
  await call(socketOf(), 'VolumeDriver.Unmount', { Name: 'held', ID: 'c2' });
  assert.equal(await loopDevicesUnder(dir), [], 'detached after the last');
  assert.equal((await call(socketOf(), 'VolumeDriver.Remove', { Name: 'held' })).body, { Err: '' });
});

test.run();
