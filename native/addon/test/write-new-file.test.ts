import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeNewFiles, writeNewFilesSync } from '../src/index.js';

const dir = mkdtempSync('/tmp/berth-unit-native-write-');
test.after(() => rmSync(dir, { recursive: true, force: true }));

const attrs = {
  path: '',
  chunks: [] as Buffer[],
  mode: 0o644,
  uid: 0,
  gid: 0,
  chown: false,
  atime: new Date(1_000_000_500),
  mtime: new Date(1_700_000_000_250),
};

test('writeNewFiles writes every chunk, then mode and times', async () => {
  const file = path.join(dir, 'a');
  const big = Buffer.alloc(200_000, 7);
  await writeNewFiles([
    { ...attrs, path: file, chunks: [Buffer.from('hello '), Buffer.alloc(0), Buffer.from('world'), big], mode: 0o4751 },
  ]);
  const st = lstatSync(file);
  assert.equal(readFileSync(file), Buffer.concat([Buffer.from('hello world'), big]));
  assert.is(st.mode & 0o7777, 0o4751, 'setuid kept, umask not applied');
  assert.is(st.mtimeMs, 1_700_000_000_250);
  assert.is(st.atimeMs, 1_000_000_500);
});

test('writeNewFilesSync sets the owner when asked (root), on the calling thread', () => {
  if (process.getuid?.() !== 0) return assert.ok(true, 'needs root');
  const file = path.join(dir, 'owned');
  writeNewFilesSync([{ ...attrs, path: file, chunks: [Buffer.from('x')], chown: true, uid: 1234, gid: 5678, mode: 0o2755 }]);
  const st = lstatSync(file);
  assert.equal([st.uid, st.gid, st.mode & 0o7777], [1234, 5678, 0o2755], 'chown came before chmod: setgid survives');
});

test('writeNewFiles makes several files per call, and joins more chunks than the addon takes', async () => {
  const chunks = Array.from({ length: 300 }, (_, i) => Buffer.from([i & 0xff]));
  const files = Array.from({ length: 20 }, (_, i) => ({
    ...attrs,
    path: path.join(dir, `many-${i}`),
    chunks: i === 0 ? chunks : [Buffer.from(String(i))],
  }));
  await writeNewFiles(files);
  assert.equal(readFileSync(files[0]!.path), Buffer.concat(chunks));
  for (let i = 1; i < 20; i++) assert.is(readFileSync(files[i]!.path, 'utf8'), String(i));
});

test('writeNewFiles never replaces a file or writes through a symlink, and stops at the first failure', async () => {
  const existing = path.join(dir, 'existing');
  const after = path.join(dir, 'after-existing');
  writeFileSync(existing, 'keep');
  const err = await writeNewFiles([
    { ...attrs, path: existing, chunks: [Buffer.from('x')] },
    { ...attrs, path: after, chunks: [Buffer.from('x')] },
  ]).then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e,
  );
  assert.is(err?.code, 'EEXIST');
  assert.is(err?.syscall, 'open');
  assert.is(err?.path, existing);
  assert.match(err!.message, `EEXIST: file exists, open '${existing}'`);
  assert.is(readFileSync(existing, 'utf8'), 'keep');
  assert.not.ok(lstatSync(after, { throwIfNoEntry: false }), 'the files after a failure are not made');

  const target = path.join(dir, 'target');
  const link = path.join(dir, 'link');
  symlinkSync(target, link);
  assert.throws(
    () => writeNewFilesSync([{ ...attrs, path: link, chunks: [Buffer.from('x')] }]),
    (e: NodeJS.ErrnoException) => e.code === 'EEXIST',
    'O_EXCL refuses the symlink itself',
  );
  assert.not.ok(lstatSync(target, { throwIfNoEntry: false }), 'nothing made at the target');
});

test('writeNewFiles fails by name in a missing directory, and checks its arguments', async () => {
  const file = path.join(dir, 'missing', 'f');
  const err = await writeNewFiles([{ ...attrs, path: file }]).then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e,
  );
  assert.is(err?.code, 'ENOENT');
  assert.is(err?.path, file);
  assert.throws(() => writeNewFiles([{ ...attrs, path: file, chunks: ['x' as unknown as Buffer] }]), /chunks must be an array of Buffers/);
  assert.throws(() => writeNewFiles(Array.from({ length: 257 }, () => ({ ...attrs, path: file }))), /too many files/);
  await writeNewFiles([]);
});

test.run();
