import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

/*
 * bin/berth's loader: a V8 code cache is used only for the exact file it was made from,
 * and the file runs as a CommonJS module either way. (scripts/bundle.js makes the real
 * cache at build time and checks that a fresh Node accepts it.)
 */

interface Loader {
  readCodeCache(file: string, cacheFile: string): { source: string; data: Buffer } | undefined;
  codeCacheFile(source: string, data: Buffer): Buffer;
  runBundle(file: string, source: string, cachedData?: Buffer): { exports: Record<string, unknown>; script: import('node:vm').Script };
}
const loader = require(path.join(__dirname, '../bin/berth')) as Loader;

const dir = mkdtempSync('/tmp/berth-unit-cli-cache-');
test.after(() => rmSync(dir, { recursive: true, force: true }));

const source = `'use strict';
const path = require('node:path');
exports.answer = (x) => ({ double: x * 2, base: path.basename(__filename), dir: __dirname, self: module.exports === exports });
`;
type Answer = (x: number) => { double: number; base: string; dir: string; self: boolean };

function makeCache(file: string, cacheFile: string): void {
  const text = readFileSync(file, 'utf8');
  const { exports, script } = loader.runBundle(file, text);
  (exports.answer as Answer)(1); // compiled lazily: the cache is made after the run, as the build does
  writeFileSync(cacheFile, loader.codeCacheFile(text, script.createCachedData()));
}

test('a cache made from the file is read back and V8 accepts it', () => {
  const file = path.join(dir, 'a.js');
  const cacheFile = path.join(dir, 'a.cache');
  writeFileSync(file, source);
  makeCache(file, cacheFile);
  const cached = loader.readCodeCache(file, cacheFile);
  assert.ok(cached && cached.data.length > 0);
  assert.is(cached!.source, source);
  const { exports, script } = loader.runBundle(file, cached!.source, cached!.data);
  assert.is(script.cachedDataRejected, false);
  assert.equal((exports.answer as Answer)(21), { double: 42, base: 'a.js', dir, self: true });
});

test('a same-length edit right after the cache was made: not used (V8 alone would run stale code)', () => {
  const file = path.join(dir, 'b.js');
  const cacheFile = path.join(dir, 'b.cache');
  writeFileSync(file, source);
  makeCache(file, cacheFile);
  const edited = source.replace('x * 2', 'x * 3');
  writeFileSync(file, edited); // likely within the same clock tick: same size, maybe the same mtime
  assert.is(loader.readCodeCache(file, cacheFile), undefined);
  const { exports } = loader.runBundle(file, edited);
  assert.is((exports.answer as Answer)(21).double, 63);
});

test('no cache, or a file that is not one: undefined', () => {
  const file = path.join(dir, 'd.js');
  writeFileSync(file, source);
  assert.is(loader.readCodeCache(file, path.join(dir, 'missing.cache')), undefined);
  const junk = path.join(dir, 'junk.cache');
  writeFileSync(junk, 'not json\n\x00\x01');
  assert.is(loader.readCodeCache(file, junk), undefined);
  writeFileSync(junk, '{"sourceBytes":999999}\nshort');
  assert.is(loader.readCodeCache(file, junk), undefined);
});

test('V8 data that does not fit the source is refused by V8, and the file still runs', () => {
  const file = path.join(dir, 'e.js');
  writeFileSync(file, source);
  const { exports, script } = loader.runBundle(file, source, Buffer.from('garbage, not a code cache'));
  assert.is(script.cachedDataRejected, true);
  assert.is((exports.answer as Answer)(2).double, 4);
});

test.run();
