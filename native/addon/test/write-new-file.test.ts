import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeNewFile } from '../src/index.js';

const dir = mkdtempSync('/tmp/berth-unit-native-write-');
test.after(() => rmSync(dir, { recursive: true, force: true }));

const attrs = { mode: 0o644, uid: 0, gid: 0, chown: false, atime: new Date(1_000_000_500), mtime: new Date(1_700_000_000_250) };

test('writeNewFile writes every chunk, then mode and times', async () => {
  const file = path.join(dir, 'a');
  const big = Buffer.alloc(200_000, 7);
  await writeNewFile(file, [Buffer.from('hello '), Buffer.alloc(0), Buffer.from('world'), big], { ...attrs, mode: 0o4751 });
  const st = lstatSync(file);
  assert.equal(readFileSync(file), Buffer.concat([Buffer.from('hello world'), big]));
  assert.is(st.mode & 0o7777, 0o4751, 'setuid kept, umask not applied');
  assert.is(st.mtimeMs, 1_700_000_000_250);
  assert.is(st.atimeMs, 1_000_000_500);
});

test('writeNewFile sets the owner when asked (root)', async () => {
  if (process.getuid?.() !== 0) return assert.ok(true, 'needs root');
  const file = path.join(dir, 'owned');
  await writeNewFile(file, [Buffer.from('x')], { ...attrs, chown: true, uid: 1234, gid: 5678, mode: 0o2755 });
  const st = lstatSync(file);
  assert.equal([st.uid, st.gid, st.mode & 0o7777], [1234, 5678, 0o2755], 'chown came before chmod: setgid survives');
});

test('writeNewFile joins more chunks than the addon takes at once', async () => {
  const file = path.join(dir, 'many');
  const chunks = Array.from({ length: 300 }, (_, i) => Buffer.from([i & 0xff]));
  await writeNewFile(file, chunks, attrs);
  assert.equal(readFileSync(file), Buffer.concat(chunks));
});

test('writeNewFile never replaces a file or writes through a symlink', async () => {
  const existing = path.join(dir, 'existing');
  writeFileSync(existing, 'keep');
  const err = await writeNewFile(existing, [Buffer.from('x')], attrs).then(() => undefined, (e: NodeJS.ErrnoException) => e);
  assert.is(err?.code, 'EEXIST');
  assert.is(err?.syscall, 'open');
  assert.is(err?.path, existing);
  assert.match(err!.message, `EEXIST: file exists, open '${existing}'`);
  assert.is(readFileSync(existing, 'utf8'), 'keep');

  const target = path.join(dir, 'target');
  const link = path.join(dir, 'link');
  symlinkSync(target, link);
  const viaLink = await writeNewFile(link, [Buffer.from('x')], attrs).then(() => undefined, (e: NodeJS.ErrnoException) => e);
  assert.is(viaLink?.code, 'EEXIST', 'O_EXCL refuses the symlink itself');
  assert.not.ok(lstatSync(target, { throwIfNoEntry: false }), 'nothing made at the target');
});

test('writeNewFile fails by name in a missing directory, and checks its arguments', async () => {
  const file = path.join(dir, 'missing', 'f');
  const err = await writeNewFile(file, [], attrs).then(() => undefined, (e: NodeJS.ErrnoException) => e);
  assert.is(err?.code, 'ENOENT');
  assert.throws(() => writeNewFile(file, ['x' as unknown as Buffer], attrs), /chunks must be an array of Buffers/);
});

test.run();
