import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Conflict } from '@berth/core';
import type { StorageMigrationOptions } from '@berth/engine';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { berthdOn, type StorageMigrateParts, storageMigrateMain } from '../src/storage-migrate.js';

// `berthd storage migrate`'s own part: its flags, the data root and plugins it hands to
// the engine's migrateStorage (a stand-in here; the real one is tested in @berth/engine
// and test/crash), the daemon it says holds the data root, its output and exit status.

let dir: string;
test.before.each(() => {
  dir = mkdtempSync('/tmp/berth-unit-daemon-migrate-');
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c) => (text += c));
  return { stream, text: () => text };
}

async function runMigrate(argv: string[], migrate: (o: StorageMigrationOptions) => Promise<unknown>) {
  const out = capture();
  const err = capture();
  const calls: StorageMigrationOptions[] = [];
  const parts = {
    builtinPlugins: [],
    migrateStorage: async (o: StorageMigrationOptions) => {
      calls.push(o);
      return migrate(o);
    },
  } as unknown as StorageMigrateParts;
  const code = await storageMigrateMain(argv, { stdout: out.stream, stderr: err.stream }, parts);
  return { code, stdout: out.text(), stderr: err.text(), calls };
}

const roots = () => ['--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--config-file', join(dir, 'none.json')];

test('--to is required, --abort excludes it, an unknown flag is a usage error; the engine is never asked', async () => {
  for (const [argv, message] of [
    [roots(), /--to <driver> is required/],
    [['--to', 'vfs', '--abort', ...roots()], /--to and --abort cannot be used together/],
    [['--to', 'vfs', '--bogus', ...roots()], /unknown flag: --bogus/],
  ] as const) {
    const r = await runMigrate([...argv], async () => assert.unreachable('migrateStorage was called'));
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /See 'berthd storage migrate --help'/);
  }
});

test("the flags' data root and exec root go to the engine with the progress on stdout; done is exit 0", async () => {
  const r = await runMigrate(['--to=vfs', ...roots()], async (o) => {
    o.progress?.('layer x on vfs');
    return { from: 'overlay', to: 'vfs', layers: 3, containers: 1, undone: false };
  });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.calls[0]!.to, 'vfs');
  assert.is(r.calls[0]!.dataRoot, join(dir, 'data'));
  assert.is(r.calls[0]!.execRoot, join(dir, 'exec'));
  assert.is(r.stdout, `layer x on vfs\ndone: ${join(dir, 'data')} now uses vfs (3 layers, 1 containers moved)\n`);
});

test('a live process named by the pid file holds the data root; a stale one does not', async () => {
  const pidfile = join(dir, 'exec', 'berthd.pid');
  mkdirSync(join(dir, 'exec'), { recursive: true });
  const done = async () => ({ from: 'overlay', to: 'vfs', layers: 0, containers: 0, undone: false });
  writeFileSync(pidfile, `${process.ppid}\n`);
  let r = await runMigrate(['--to', 'vfs', ...roots()], done);
  assert.is(await r.calls[0]!.heldBy?.(), `berthd pid ${process.ppid} (named by ${pidfile})`);
  writeFileSync(pidfile, '999999999\n');
  r = await runMigrate(['--to', 'vfs', ...roots()], done);
  assert.is(await r.calls[0]!.heldBy?.(), undefined);
});

test('a berthd started with --data-root naming the data root holds it, wherever its pid file; berthd storage … does not', () => {
  const proc = join(dir, 'proc');
  const fake = (pid: number, argv: string[]) => {
    mkdirSync(join(proc, String(pid)), { recursive: true });
    writeFileSync(join(proc, String(pid), 'cmdline'), `${argv.join('\0')}\0`);
  };
  fake(101, ['/opt/node', '--max-semi-space-size=4', '/opt/berth/packages/daemon/dist/src/bin.js', '--data-root', '/srv/a/../b']);
  fake(102, ['/opt/node', '/opt/berth/packages/daemon/dist/src/bin.js', 'storage', 'migrate', '--data-root', '/srv/c']);
  fake(103, ['/usr/bin/berthd', '--data-root=/srv/d']);
  fake(104, ['/bin/cat', '--data-root', '/srv/e']);
  assert.is(berthdOn('/srv/b', proc), 101);
  assert.is(berthdOn('/srv/c', proc), undefined, 'a migration is not a daemon');
  assert.is(berthdOn('/srv/d/', proc), 103);
  assert.is(berthdOn('/srv/e', proc), undefined, 'not berthd');
});

test("the engine's refusal is exit 1 with its message alone (no stack)", async () => {
  const r = await runMigrate(['--to', 'vfs', ...roots()], async () => {
    throw new Conflict('cannot migrate storage while containers run: web');
  });
  assert.is(r.code, 1);
  assert.is(r.stderr, 'berthd storage migrate: cannot migrate storage while containers run: web\n');
});

test.run();
