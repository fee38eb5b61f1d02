import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type OciRuntime, runcPlugin } from '../src/index.js';
import { removeExitedRuncState } from '../src/runc-exited-state.js';
import { cgroupDirs, Fixture, shimPids, shimsLeft } from './support/fixture.js';

// The in-process `runc delete` of an exited container, on real runc containers.

const fx = new Fixture();
let runtime: OciRuntime;
const runcRoot = () => path.join(fx.dir, 'exec', 'state');

test.before(async () => {
  runtime = (await runcPlugin.init(fx.context())) as OciRuntime;
});
test.after(() => fx.cleanup());

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), what);
}

test("an exited container's cgroups and runc state go without runc; the shim left them", async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['true']));
  await runtime.start(id);
  assert.is((await runtime.wait(id)).exitCode, 0);
  await waitFor(() => shimPids(id).length === 0, 'the shim ends after the exit');
  // --keep-runtime-state: the shim did not run `runc delete`.
  assert.ok(existsSync(path.join(runcRoot(), id, 'state.json')), "runc's state is still there");
  assert.ok(cgroupDirs(id).length > 0, 'the cgroups are still there');
  assert.is(await removeExitedRuncState(runcRoot(), id), true);
  assert.not.ok(existsSync(path.join(runcRoot(), id)));
  assert.equal(cgroupDirs(id), []);
  await runtime.delete(id); // the rest: the shim's state dir
  assert.not.ok(existsSync(fx.stateDir(id)));
});

test('a created container whose init waits is not touched: runc must kill it', async () => {
  const id = fx.newId();
  const { pid } = await runtime.create(fx.request(id, ['sleep', '100']));
  assert.is(await removeExitedRuncState(runcRoot(), id), false);
  assert.ok(existsSync(path.join(runcRoot(), id, 'state.json')));
  assert.ok(cgroupDirs(id).length > 0);
  assert.ok(existsSync(`/proc/${pid}`), 'the init is still alive');
  await runtime.delete(id);
  assert.not.ok(existsSync(path.join(runcRoot(), id)));
  assert.equal(cgroupDirs(id), []);
  assert.equal(await shimsLeft(id), []);
});

test('child cgroups made in the container are left to runc at once, which removes them', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['true']));
  await runtime.start(id);
  await runtime.wait(id);
  await waitFor(() => shimPids(id).length === 0, 'the shim ends after the exit');
  // As systemd or a nested engine would have: a cgroup below the container's own.
  const parent = cgroupDirs(id).find((d) => d.includes('/pids/'))!;
  mkdirSync(path.join(parent, 'child'));
  // It gives up at once (no retries while the child stays): plugins/runtime-oci/bench/lifecycle.ts times it.
  assert.is(await removeExitedRuncState(runcRoot(), id), false);
  await runtime.delete(id);
  assert.equal(cgroupDirs(id), [], 'runc removed the container cgroups with their children');
  assert.not.ok(existsSync(path.join(runcRoot(), id)));
});

test('state it does not understand is left to runc: missing, unreadable, another id, odd cgroup paths', async () => {
  assert.is(await removeExitedRuncState(runcRoot(), 'no-such-container'), false);
  const cases: Array<[string, string]> = [
    ['garbled', '{not json'],
    ['other-id', JSON.stringify({ id: 'someone-else', cgroup_paths: {} })],
    ['no-paths', JSON.stringify({ id: 'no-paths' })],
    ['outside', JSON.stringify({ id: 'outside', cgroup_paths: { memory: '/tmp' } })],
    ['climbing', JSON.stringify({ id: 'climbing', cgroup_paths: { memory: '/sys/fs/cgroup/../../tmp' } })],
  ];
  for (const [id, content] of cases) {
    const dir = path.join(runcRoot(), id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'state.json'), content);
    assert.is(await removeExitedRuncState(runcRoot(), id), false, id);
    assert.is(readFileSync(path.join(dir, 'state.json'), 'utf8'), content, `${id}: left as it was`);
  }
});

test.run();
