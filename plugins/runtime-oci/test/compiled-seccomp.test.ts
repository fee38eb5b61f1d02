/**
 * OptimizedSeccompPrograms: optimized programs computed once per content, and the
 * content-addressed copies a direct exec loads.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CompiledSeccompCache, OptimizedSeccompPrograms } from '../src/compiled-seccomp.js';
import { optimizeSeccompProgram } from '../src/seccomp-optimizer.js';

const dockerDefault = readFileSync(path.join(__dirname, 'fixtures/crun-docker-default.bpf'));
let dir: string;
test.before.each(() => {
  dir = mkdtempSync('/tmp/berth-unit-rt-seccomp-');
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('fileFor: an optimized copy named by its content, written once; the file itself when nothing is gained; nothing for a missing file', () => {
  const programs = new OptimizedSeccompPrograms(path.join(dir, 'seccomp'));
  const original = path.join(dir, 'seccomp.bpf');
  writeFileSync(original, dockerDefault);
  const optimized = optimizeSeccompProgram(dockerDefault);
  const copy = programs.fileFor(original);
  assert.is(copy, path.join(dir, 'seccomp', `${createHash('sha256').update(optimized).digest('hex')}.bpf`));
  assert.ok(readFileSync(copy!).equals(optimized));
  rmSync(copy!);
  assert.is(programs.fileFor(original), copy, 'known: not computed nor written again');
  assert.not.ok(existsSync(copy!));
  // an optimized program (a later container's, from the annotation) is its own
  const later = path.join(dir, 'later.bpf');
  writeFileSync(later, optimized);
  assert.is(programs.fileFor(later), later);
  assert.is(programs.fileFor(path.join(dir, 'missing.bpf')), undefined);
  assert.equal(readdirSync(path.join(dir, 'seccomp')), []);
});

test("fileFor: a temporary file left by a crash is removed; a copy that cannot be written leaves the container's program", () => {
  const seccompDir = path.join(dir, 'seccomp');
  mkdirSync(seccompDir);
  writeFileSync(path.join(seccompDir, 'abc.bpf.tmp-12345'), 'half');
  const original = path.join(dir, 'seccomp.bpf');
  writeFileSync(original, dockerDefault);
  const copy = new OptimizedSeccompPrograms(seccompDir).fileFor(original)!;
  assert.equal(readdirSync(seccompDir), [path.basename(copy)]);
  writeFileSync(path.join(dir, 'file'), '');
  assert.is(new OptimizedSeccompPrograms(path.join(dir, 'file', 'sub')).fileFor(original), original);
});

test('CompiledSeccompCache learns the optimized program', () => {
  const cache = new CompiledSeccompCache(process.execPath, new OptimizedSeccompPrograms(path.join(dir, 'seccomp')));
  const key = cache.keyOf({ defaultAction: 'SCMP_ACT_ERRNO' })!;
  mkdirSync(path.join(dir, 'c1'));
  writeFileSync(path.join(dir, 'c1', 'seccomp.bpf'), dockerDefault);
  cache.learn(key, dir, 'c1');
  assert.is(cache.lookup(key), optimizeSeccompProgram(dockerDefault).toString('base64'));
});

test.run();
