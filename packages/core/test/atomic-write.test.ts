import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fsyncDir, removeAtomicLeftovers, writeFileAtomic, writeJsonAtomic } from '../src/fs/atomic-write.js';

const dir = mkdtempSync('/tmp/berth-unit-atomic-');
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('writes a new file with the mode asked for, and replaces an existing one whole', async () => {
  const file = path.join(dir, 'record.json');
  await writeJsonAtomic(file, { a: 1 });
  assert.equal(JSON.parse(readFileSync(file, 'utf8')), { a: 1 });
  assert.is(statSync(file).mode & 0o777, 0o600);
  writeFileSync(path.join(dir, 'other'), 'x');
  await writeFileAtomic(file, 'y'.repeat(300_000), 0o640);
  assert.is(readFileSync(file, 'utf8'), 'y'.repeat(300_000));
  await writeFileAtomic(file, Buffer.from([1, 2, 3]));
  assert.equal([...readFileSync(file)], [1, 2, 3]);
  assert.equal(readdirSync(dir).sort(), ['other', 'record.json'], 'no temporary file is left');
});

test('a directory that does not exist is an error and leaves nothing', async () => {
  try {
    await writeFileAtomic(path.join(dir, 'missing', 'x.json'), '{}');
    assert.unreachable('must fail');
  } catch (err) {
    assert.is((err as NodeJS.ErrnoException).code, 'ENOENT');
  }
  await fsyncDir(dir);
  assert.not.ok(readdirSync(dir).some((n) => n.endsWith('.tmp')));
});

test('removeAtomicLeftovers deletes the temporary files of cut-short writes of that file only', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-core-leftovers-');
  try {
    writeFileSync(path.join(dir, 'state.json'), '{}');
    writeFileSync(path.join(dir, '.state.json.0123456789ab.tmp'), '{"half');
    writeFileSync(path.join(dir, '.other.json.0123456789ab.tmp'), 'x');
    writeFileSync(path.join(dir, '.state.json.notrandom.tmp'), 'x');
    await removeAtomicLeftovers(path.join(dir, 'state.json'));
    assert.equal(readdirSync(dir).sort(), ['.other.json.0123456789ab.tmp', '.state.json.notrandom.tmp', 'state.json']);
    await removeAtomicLeftovers(path.join(dir, 'missing-dir', 'state.json'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
