import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultLogRotation, logRotation, parseLogSize, resolveLogConfig, runtimeLogRequest } from '../src/io/log-config.js';

test('sizes are read as Docker reads them: binary units, optional b/ib', () => {
  assert.is(parseLogSize('100'), 100);
  assert.is(parseLogSize('1k'), 1024);
  assert.is(parseLogSize('10m'), 10 * 1024 * 1024);
  assert.is(parseLogSize('1.5g'), 1.5 * 1024 ** 3);
  assert.is(parseLogSize('2MiB'), 2 * 1024 * 1024);
  assert.throws(() => parseLogSize('ten'), /invalid size/);
});

test('rotation: berth rotates at 10 MiB × 3 by default; max-file defaults to 1 with a max-size', () => {
  assert.equal(logRotation({ Type: 'json-file', Config: {} }), defaultLogRotation);
  assert.equal(logRotation({ Type: 'json-file', Config: { 'max-size': '1m' } }), { maxSize: 1024 * 1024, maxFiles: 1 });
  assert.equal(logRotation({ Type: 'json-file', Config: { 'max-size': '2k', 'max-file': '4' } }), { maxSize: 2048, maxFiles: 4 });
  assert.is(logRotation({ Type: 'none', Config: {} }), undefined);
});

test("the daemon's defaults fill in what the create leaves out; the create's own options win", () => {
  const defaults = { driver: 'json-file', opts: { 'max-size': '5m', 'max-file': '2' } };
  assert.equal(resolveLogConfig(undefined, defaults), { Type: 'json-file', Config: { 'max-size': '5m', 'max-file': '2' } });
  assert.equal(resolveLogConfig({ Type: '', Config: { 'max-size': '1m' } }, defaults), {
    Type: 'json-file',
    Config: { 'max-size': '1m', 'max-file': '2' },
  });
  // Another driver than the daemon's does not get the daemon's options.
  assert.equal(resolveLogConfig({ Type: 'none' }, defaults), { Type: 'none', Config: {} });
  assert.equal(resolveLogConfig({}, { driver: 'none' }), { Type: 'none', Config: {} });
  assert.equal(resolveLogConfig(undefined, {}), { Type: 'json-file', Config: {} });
});

test("a run's log request: none logs nothing; json-file logs with its rotation", () => {
  assert.equal(runtimeLogRequest({ Type: 'none', Config: {} }, '/l'), {});
  assert.equal(runtimeLogRequest(undefined, '/l'), { log: { format: 'json-file', path: '/l', rotation: defaultLogRotation } });
  assert.equal(runtimeLogRequest({ Type: 'json-file', Config: { 'max-size': '1k', 'max-file': '2' } }, '/l'), {
    log: { format: 'json-file', path: '/l', rotation: { maxSize: 1024, maxFiles: 2 } },
  });
});

test.run();
