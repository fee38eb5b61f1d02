import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  isBerthError,
  makeOutlivingCgroup,
  outlivingCgroupDirs,
  readMountInfo,
  removeOutlivingCgroup,
  trackingHierarchies,
} from '../src/index.js';

test('the path in each tracking hierarchy; none for an empty one; a path leaving the hierarchy refused, named', () => {
  const mounts = readMountInfo();
  const roots = trackingHierarchies(mounts);
  assert.ok(roots.length > 0, 'this host has a tracking hierarchy');
  assert.equal(
    outlivingCgroupDirs('shim cgroup', '/berth/shims/', mounts),
    roots.map((root) => path.join(root, 'berth/shims')),
  );
  assert.equal(outlivingCgroupDirs('shim cgroup', '/', mounts), []);
  try {
    outlivingCgroupDirs('shim cgroup', 'berth/../../etc', mounts);
    assert.unreachable('refused');
  } catch (err) {
    assert.ok(isBerthError(err, 'InvalidArgument'));
    assert.match((err as Error).message, 'shim cgroup "berth/../../etc" must be a path inside the cgroup hierarchy');
  }
});

test('a busy cgroup is waited for while what holds it is leaving, and left at once otherwise', async () => {
  const rel = `berth-unit-outliving-${process.pid}`;
  const dirs = makeOutlivingCgroup(outlivingCgroupDirs('test cgroup', rel, readMountInfo()), (dir, err) =>
    assert.unreachable(`${dir}: ${err.message}`),
  );
  assert.is(dirs.length, trackingHierarchies(readMountInfo()).length);
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    for (const dir of dirs) writeFileSync(path.join(dir, 'cgroup.procs'), String(child.pid));
    await removeOutlivingCgroup(dirs, { waitMs: 2000, pollMs: 10, leaving: () => false });
    assert.ok(dirs.every(existsSync), 'nothing leaving: the busy cgroup stays, without waiting');
    const killed = setTimeout(() => child.kill('SIGKILL'), 100);
    const started = Date.now();
    await removeOutlivingCgroup(dirs, { waitMs: 2000, pollMs: 10 });
    clearTimeout(killed);
    assert.ok(Date.now() - started >= 90, 'it waited for the process to leave');
    assert.not.ok(dirs.some(existsSync), 'removed once empty');
  } finally {
    child.kill('SIGKILL');
    await removeOutlivingCgroup(dirs, { waitMs: 2000, pollMs: 10 });
  }
});

test.run();
