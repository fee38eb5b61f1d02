import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isSameProcess, type MountSpec, silentLogger } from '@berth/core';
import { isMountPoint, type MountHelperProcess, startMountHelper } from '@berth/native';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResolvedEngineConfig } from '../src/config.js';
import { DriverMounts, MountHelperLedger, type MountOwner } from '../src/index.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';
import { fuseOverlayfsHelper } from './support/fuse-overlayfs-storage.js';

// DriverMounts on its own (no containers): the ledger's records and what recovery does
// with each kind a crash can leave, on real fuse-overlayfs helpers.

interface Rig {
  dir: string;
  cgroupParent: string;
  execRoot: string;
  open(): DriverMounts;
  /** A union of one lower layer on `<dir>/<name>/target`, as a helper spec. */
  union(name: string): { spec: MountSpec; target: string };
  started: MountHelperProcess[];
}

async function withRig(fn: (r: Rig) => Promise<void>): Promise<void> {
  const dir = mkdtempSync('/tmp/berth-unit-driver-mounts-');
  const execRoot = path.join(dir, 'exec');
  const cgroupParent = `berth-unit-${path.basename(dir).slice(-6)}`;
  const opened: DriverMounts[] = [];
  const started: MountHelperProcess[] = [];
  let failure: unknown;
  try {
    await fn({
      dir,
      cgroupParent,
      execRoot,
      started,
      open() {
        const mounts = new DriverMounts({ execRoot, cgroupParent } as ResolvedEngineConfig, silentLogger);
        opened.push(mounts);
        return mounts;
      },
      union(name) {
        const base = path.join(dir, name);
        for (const d of ['lower', 'upper', 'work', 'target']) mkdirSync(path.join(base, d), { recursive: true });
        writeFileSync(path.join(base, 'lower', 'hello'), 'hello');
        const options = [`lowerdir=${base}/lower`, `upperdir=${base}/upper`, `workdir=${base}/work`];
        return {
          spec: { type: 'fuse.fuse-overlayfs', source: 'x', options, helper: [fuseOverlayfsHelper] },
          target: path.join(base, 'target'),
        };
      },
    }).catch((err: unknown) => {
      failure = err;
      throw err;
    });
  } finally {
    for (const m of opened) await m.close();
    for (const h of started) {
      try {
        process.kill(-h.pid, 'SIGKILL');
      } catch {}
    }
    if (failure === undefined) removeAndAssertNoMounts(dir);
    else {
      try {
        removeAndAssertNoMounts(dir);
      } catch {}
    }
    rmSyncCgroup(cgroupParent);
  }
}

/** The test's cgroup parent and its mount-helpers child in every hierarchy, where empty. */
function rmSyncCgroup(parent: string): void {
  for (const hierarchy of ['', ...readdirSync('/sys/fs/cgroup')]) {
    for (const dir of [path.join('/sys/fs/cgroup', hierarchy, parent, 'mount-helpers'), path.join('/sys/fs/cgroup', hierarchy, parent)]) {
      try {
        rmdirSync(dir);
      } catch {}
    }
  }
}

const ledgerFiles = (r: Rig) =>
  existsSync(path.join(r.execRoot, 'mount-helpers')) ? readdirSync(path.join(r.execRoot, 'mount-helpers')) : [];
const container = (id: string): MountOwner => ({ kind: 'container', id });

async function gone(pid: number, startTime: number): Promise<boolean> {
  for (let i = 0; i < 300; i++) {
    if (!isSameProcess(pid, startTime)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

test('a plain spec leaves no record; a helper spec is recorded with its pid, lifeline and log, all gone after unmount', () =>
  withRig(async (r) => {
    const mounts = r.open();
    const tmpfs = path.join(r.dir, 'tmpfs');
    mkdirSync(tmpfs);
    await mounts.mount([{ type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }], tmpfs, { kind: 'operation', purpose: 'test' });
    assert.equal(ledgerFiles(r), []);
    await mounts.unmount(tmpfs);
    const { spec, target } = r.union('a');
    await mounts.mount([spec], target, container('c1'));
    const entry = mounts.helperOf(target)!;
    assert.ok(entry.pid && isSameProcess(entry.pid, entry.startTime!));
    // Out of this process's cgroup, as a shim is: a service manager stopping berthd leaves it (and its children) alone.
    const cgroupOf = (pid: number) => readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    assert.match(cgroupOf(entry.pid!), new RegExp(`/${r.cgroupParent}/mount-helpers\n`));
    for (const child of readFileSync(`/proc/${entry.pid}/task/${entry.pid}/children`, 'utf8').trim().split(' ').filter(Boolean)) {
      assert.match(cgroupOf(Number(child)), new RegExp(`/${r.cgroupParent}/mount-helpers\n`), 'what it started too');
    }
    assert.equal(entry.owner, container('c1'));
    const key = new MountHelperLedger(path.join(r.execRoot, 'mount-helpers')).keyOf(target);
    assert.equal(ledgerFiles(r).sort(), [`${key}.json`, `${key}.lifeline`, `${key}.log`]);
    await mounts.unmount(target);
    assert.not.ok(isSameProcess(entry.pid!, entry.startTime!));
    assert.not.ok(isMountPoint(target));
    assert.equal(ledgerFiles(r), []);
    await mounts.close();
    for (const hierarchy of ['', ...readdirSync('/sys/fs/cgroup')]) {
      assert.not.ok(existsSync(path.join('/sys/fs/cgroup', hierarchy, r.cgroupParent, 'mount-helpers')), 'the empty cgroup goes at close');
    }
  }));

test('two helper specs for one mount point are refused before anything starts', () =>
  withRig(async (r) => {
    const { spec, target } = r.union('a');
    try {
      await r.open().mount([spec, spec], target, container('c1'));
      assert.unreachable();
    } catch (err) {
      assert.match((err as Error).message, /2 mount helpers for .*: at most one per mount point/);
    }
    assert.equal(ledgerFiles(r), []);
  }));

test('recovery: a helper whose pid was never recorded is found by its argv and killed; an unwanted one stopped; a wanted one adopted', () =>
  withRig(async (r) => {
    const ledger = new MountHelperLedger(path.join(r.execRoot, 'mount-helpers'));
    // A crash between the record's first write and the spawn's: a helper runs that the record does not name.
    const orphan = r.union('orphan');
    const orphanKey = ledger.keyOf(orphan.target);
    ledger.write({ key: orphanKey, target: orphan.target, owner: container('gone') });
    const unrecorded = await startMountHelper(orphan.spec, orphan.target, { logPath: path.join(r.dir, 'orphan.log') });
    r.started.push(unrecorded);
    // A helper an earlier engine started for a container that no longer wants it, and one for a container that does.
    const first = r.open();
    const unwanted = r.union('unwanted');
    const kept = r.union('kept');
    await first.mount([unwanted.spec], unwanted.target, container('stopped'));
    await first.mount([kept.spec], kept.target, container('running'));
    const unwantedEntry = first.helperOf(unwanted.target)!;
    const keptEntry = first.helperOf(kept.target)!;
    await first.close();
    // And a record no one can read.
    writeFileSync(path.join(ledger.dir, 'ffffffffffffffffffffffff.json'), '{not json');

    const next = r.open();
    next.recover((owner) => owner.kind === 'container' && owner.id === 'running');
    assert.ok(await gone(unrecorded.pid, unrecorded.startTime), 'the unrecorded helper is killed');
    assert.not.ok(isMountPoint(orphan.target));
    assert.ok(await gone(unwantedEntry.pid!, unwantedEntry.startTime!), 'the unwanted helper is killed');
    assert.not.ok(isMountPoint(unwanted.target));
    assert.equal(next.helperOf(kept.target), keptEntry, 'the wanted one adopted');
    assert.ok(isMountPoint(kept.target));
    assert.equal(
      ledgerFiles(r).filter((f) => f.endsWith('.json')),
      [`${ledger.keyOf(kept.target)}.json`],
      'only the adopted record is left',
    );
    // The adopted helper's death is seen through its reopened lifeline.
    const deaths: Array<[MountOwner, boolean]> = [];
    next.onDeath((owner, _message, atStart) => void deaths.push([owner, atStart]));
    process.kill(-keptEntry.pid!, 'SIGKILL');
    for (let i = 0; i < 300 && deaths.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal(deaths, [[container('running'), false]]);
    assert.not.ok(isMountPoint(kept.target), 'its dead mount removed');
    assert.equal(ledgerFiles(r), []);
  }));

test('recovery: a wanted helper found dead is reported once the engine asks, with the reason', () =>
  withRig(async (r) => {
    const first = r.open();
    const u = r.union('a');
    await first.mount([u.spec], u.target, container('running'));
    const entry = first.helperOf(u.target)!;
    await first.close();
    process.kill(-entry.pid!, 'SIGKILL');
    assert.ok(await gone(entry.pid!, entry.startTime!));
    const next = r.open();
    const deaths: Array<[MountOwner, string, boolean]> = [];
    next.onDeath((owner, message, atStart) => void deaths.push([owner, message, atStart]));
    next.recover(() => true);
    assert.equal(deaths, [], 'nothing told before the runs are adopted');
    assert.not.ok(isMountPoint(u.target), 'the dead mount is removed at once');
    await next.reportRecoveredDeaths();
    assert.is(deaths.length, 1);
    assert.equal(deaths[0]![0], container('running'));
    assert.match(deaths[0]![1], new RegExp(`mount helper ${fuseOverlayfsHelper} \\(pid ${entry.pid}\\) serving ${u.target} exited`));
    assert.is(deaths[0]![2], true);
    assert.equal(ledgerFiles(r), []);
  }));

test.run();
