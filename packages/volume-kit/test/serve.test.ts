// serve() over a real UNIX socket, asserting the protocol's exact answers and the mount
// counting Docker's per-container Mount/Unmount calls need.
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { call } from '../src/conformance/index.js';
import { PLUGIN_CONTENT_TYPE, serve, type VolumeServer } from '../src/index.js';
import { DirectoryDriver } from './fixtures/directory-driver.js';

let dir = '';
let server: VolumeServer | undefined;
let driver: DirectoryDriver;
const socketOf = () => path.join(dir, 'run', 'dir.sock');
const ledgerOf = () => path.join(dir, 'mounts.json');

async function start(): Promise<void> {
  driver = new DirectoryDriver(path.join(dir, 'state'));
  server = await serve(driver, { socket: socketOf(), stateFile: ledgerOf() });
}

test.before.each(async () => {
  dir = await fs.mkdtemp('/tmp/berth-unit-volume-kit-serve-');
  await start();
});
test.after.each(async () => {
  await server?.close();
  server = undefined;
  await fs.rm(dir, { recursive: true, force: true });
});

test('Activate and Capabilities: the handshake Docker makes, with the plugin media type', async () => {
  const activate = await call(socketOf(), 'Plugin.Activate');
  assert.is(activate.status, 200);
  assert.is(activate.contentType, PLUGIN_CONTENT_TYPE);
  assert.equal(activate.body, { Implements: ['VolumeDriver'] });
  assert.equal((await call(socketOf(), 'VolumeDriver.Capabilities', {})).body, { Capabilities: { Scope: 'local' } });
  assert.is(((await fs.stat(socketOf())).mode & 0o777).toString(8), '660');
});

test('Create, Get, List and Path answer as the protocol says; Opts null is no options', async () => {
  assert.equal((await call(socketOf(), 'VolumeDriver.Create', { Name: 'v1', Opts: { label: 'x' } })).body, { Err: '' });
  assert.equal((await call(socketOf(), 'VolumeDriver.Create', { Name: 'v2', Opts: null })).body, { Err: '' });
  const data = path.join(dir, 'state', 'v1', 'data');
  const got = await call(socketOf(), 'VolumeDriver.Get', { Name: 'v1' });
  assert.is(got.status, 200);
  const volume = got.body.Volume as Record<string, unknown>;
  assert.equal(Object.keys(got.body).sort(), ['Err', 'Volume']);
  assert.is(got.body.Err, '');
  assert.is(volume.Name, 'v1');
  assert.is(volume.Mountpoint, data);
  assert.ok(!Number.isNaN(Date.parse(String(volume.CreatedAt))), `CreatedAt ${volume.CreatedAt}`);
  const list = await call(socketOf(), 'VolumeDriver.List', {});
  assert.equal((list.body.Volumes as Array<{ Name: string }>).map((v) => v.Name).sort(), ['v1', 'v2']);
  assert.is(list.body.Err, '');
  assert.equal((await call(socketOf(), 'VolumeDriver.Path', { Name: 'v1' })).body, { Mountpoint: data, Err: '' });
});

test('Mount and Unmount per container ID: the driver mounts for the first and unmounts after the last; the count is on disk', async () => {
  await call(socketOf(), 'VolumeDriver.Create', { Name: 'shared' });
  const data = path.join(dir, 'state', 'shared', 'data');
  for (const id of ['c1', 'c2', 'c2']) {
    assert.equal((await call(socketOf(), 'VolumeDriver.Mount', { Name: 'shared', ID: id })).body, { Mountpoint: data, Err: '' });
  }
  assert.equal(driver.calls, [{ op: 'mount', name: 'shared', containerId: 'c1' }]);
  assert.equal(JSON.parse(await fs.readFile(ledgerOf(), 'utf8')), { shared: { mountpoint: data, ids: ['c1', 'c2'] } });
  assert.equal((await call(socketOf(), 'VolumeDriver.Path', { Name: 'shared' })).body, { Mountpoint: data, Err: '' });
  assert.equal((await call(socketOf(), 'VolumeDriver.Unmount', { Name: 'shared', ID: 'c1' })).body, { Err: '' });
  assert.is(driver.calls.length, 1, 'no unmount while c2 holds it');
  // An ID never recorded (Docker repeating an Unmount) changes nothing.
  assert.equal((await call(socketOf(), 'VolumeDriver.Unmount', { Name: 'shared', ID: 'c9' })).body, { Err: '' });
  assert.equal((await call(socketOf(), 'VolumeDriver.Unmount', { Name: 'shared', ID: 'c2' })).body, { Err: '' });
  assert.equal(driver.calls[1], { op: 'unmount', name: 'shared', containerId: 'c2' });
  assert.equal(JSON.parse(await fs.readFile(ledgerOf(), 'utf8')), {});
});

test('concurrent Mounts of one volume from many containers: one driver mount, every ID counted', async () => {
  await call(socketOf(), 'VolumeDriver.Create', { Name: 'busy' });
  const ids = Array.from({ length: 12 }, (_, i) => `c${i}`);
  await Promise.all(ids.map((id) => call(socketOf(), 'VolumeDriver.Mount', { Name: 'busy', ID: id })));
  assert.is(driver.calls.filter((c) => c.op === 'mount').length, 1);
  const ledger = JSON.parse(await fs.readFile(ledgerOf(), 'utf8')) as Record<string, { ids: string[] }>;
  assert.equal([...ledger.busy!.ids].sort(), [...ids].sort());
  await Promise.all(ids.map((id) => call(socketOf(), 'VolumeDriver.Unmount', { Name: 'busy', ID: id })));
  assert.equal(
    driver.calls.map((c) => c.op),
    ['mount', 'unmount'],
  );
});

test('a restart of the serving process keeps the count: recorded volumes mounted again once, unmounted after the last ID', async () => {
  await call(socketOf(), 'VolumeDriver.Create', { Name: 'kept' });
  await call(socketOf(), 'VolumeDriver.Mount', { Name: 'kept', ID: 'c1' });
  await call(socketOf(), 'VolumeDriver.Mount', { Name: 'kept', ID: 'c2' });
  await server!.close();
  await start();
  assert.equal(driver.calls, [{ op: 'mount', name: 'kept', containerId: 'c1' }], 'the new process mounted it again at start');
  await call(socketOf(), 'VolumeDriver.Mount', { Name: 'kept', ID: 'c3' });
  await call(socketOf(), 'VolumeDriver.Unmount', { Name: 'kept', ID: 'c1' });
  await call(socketOf(), 'VolumeDriver.Unmount', { Name: 'kept', ID: 'c2' });
  assert.is(driver.calls.length, 1);
  await call(socketOf(), 'VolumeDriver.Unmount', { Name: 'kept', ID: 'c3' });
  assert.equal(driver.calls[1], { op: 'unmount', name: 'kept', containerId: 'c3' });
});

test('a failed driver unmount keeps the ID, and the next Mount asks the driver again', async () => {
  await call(socketOf(), 'VolumeDriver.Create', { Name: 'stuck' });
  await call(socketOf(), 'VolumeDriver.Mount', { Name: 'stuck', ID: 'c1' });
  const unmount = driver.unmount.bind(driver);
  driver.unmount = async () => {
    throw new Error('device busy');
  };
  const failed = await call(socketOf(), 'VolumeDriver.Unmount', { Name: 'stuck', ID: 'c1' });
  assert.equal(failed.body, { Err: 'device busy' });
  driver.unmount = unmount;
  await call(socketOf(), 'VolumeDriver.Mount', { Name: 'stuck', ID: 'c2' });
  assert.equal(
    driver.calls.map((c) => `${c.op} ${c.containerId}`),
    ['mount c1', 'mount c1'],
    'mounted again (for the recorded holder) before counting c2',
  );
  await call(socketOf(), 'VolumeDriver.Unmount', { Name: 'stuck', ID: 'c1' });
  await call(socketOf(), 'VolumeDriver.Unmount', { Name: 'stuck', ID: 'c2' });
  assert.equal(driver.calls[2], { op: 'unmount', name: 'stuck', containerId: 'c2' });
});

test('a ledger naming a volume that no longer exists is forgotten at start', async () => {
  await server!.close();
  await fs.writeFile(ledgerOf(), JSON.stringify({ gone: { mountpoint: '/nowhere', ids: ['c1'] } }));
  await start();
  assert.equal(JSON.parse(await fs.readFile(ledgerOf(), 'utf8')), {});
});

test('an unreadable ledger refuses to start, naming the file (never an empty count that would unmount volumes in use)', async () => {
  await server!.close();
  server = undefined;
  await fs.writeFile(ledgerOf(), '{not json');
  try {
    await start();
    assert.unreachable('served over a corrupt ledger');
  } catch (err) {
    assert.match((err as Error).message, ledgerOf());
  }
});

test('errors: {"Err"} with status 500 saying their kind; unknown endpoint 404; GET 405; a body not JSON', async () => {
  const missing = await call(socketOf(), 'VolumeDriver.Get', { Name: 'nosuch' });
  assert.is(missing.status, 500);
  assert.equal(missing.body, { Err: 'no such volume: nosuch' });
  const bad = await call(socketOf(), 'VolumeDriver.Create', { Name: 'v', Opts: { size: '1G' } });
  assert.is(bad.status, 500);
  assert.equal(bad.body, { Err: 'invalid option "size"' });
  assert.is((await call(socketOf(), 'VolumeDriver.Get', { Name: 'v' })).status, 500, 'nothing created');
  const nonString = await call(socketOf(), 'VolumeDriver.Create', { Name: 'v', Opts: { label: 3 } });
  assert.equal(nonString.body, { Err: 'invalid option "label": its value must be a string' });
  const noName = await call(socketOf(), 'VolumeDriver.Mount', { ID: 'c1' });
  assert.equal(noName.body, { Err: 'invalid request: "Name" must be a non-empty string' });
  const noId = await call(socketOf(), 'VolumeDriver.Mount', { Name: 'v' });
  assert.equal(noId.body, { Err: 'invalid request: "ID" must be a non-empty string' });
  await call(socketOf(), 'VolumeDriver.Create', { Name: 'held' });
  await call(socketOf(), 'VolumeDriver.Mount', { Name: 'held', ID: 'c1' });
  const busy = await call(socketOf(), 'VolumeDriver.Remove', { Name: 'held' });
  assert.is(busy.status, 500);
  assert.equal(busy.body, { Err: 'remove held: volume is in use (mounted for 1 container(s))' });
  assert.is((await call(socketOf(), 'VolumeDriver.Get', { Name: 'held' })).status, 200, 'still there');
  const unknown = await call(socketOf(), 'VolumeDriver.Snapshot', {});
  assert.is(unknown.status, 404);
  assert.equal(unknown.body, { Err: 'unknown endpoint /VolumeDriver.Snapshot' });
  assert.is((await call(socketOf(), 'VolumeDriver.List', undefined, 'GET')).status, 405);
  const garbage = await call(socketOf(), 'VolumeDriver.Create', '{"Name":');
  assert.is(garbage.status, 500);
  assert.match(String(garbage.body.Err), /^invalid request: body is not JSON/);
});

test('the socket: a stale file is replaced; one something listens on is refused; a non-socket is refused', async () => {
  await server!.close();
  server = undefined;
  // A stale socket: bound by a process that exited without removing it (as after a kill -9).
  execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', socketOf()]);
  assert.ok((await fs.lstat(socketOf())).isSocket());
  await start();
  assert.equal((await call(socketOf(), 'Plugin.Activate')).body, { Implements: ['VolumeDriver'] });
  await server!.close();
  server = undefined;
  // Something listening.
  const live = net.createServer();
  await fs.rm(socketOf(), { force: true });
  await new Promise<void>((r) => live.listen(socketOf(), r));
  try {
    await start();
    assert.unreachable('served over a live socket');
  } catch (err) {
    assert.match((err as Error).message, /another server is listening on/);
  } finally {
    await new Promise<void>((r) => live.close(() => r()));
  }
  await fs.writeFile(socketOf(), 'not a socket');
  try {
    await start();
    assert.unreachable('replaced a regular file');
  } catch (err) {
    assert.match((err as Error).message, /is not a socket/);
  }
});

test.run();
