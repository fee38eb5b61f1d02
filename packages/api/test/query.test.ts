import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  boolParam,
  compareApiVersions,
  filtersParam,
  intParam,
  optionalBoolParam,
  splitVersionPrefix,
  stringParam,
  timeParam,
} from '../src/index.js';

const q = (s: string) => new URLSearchParams(s);

test('booleans in every dialect', () => {
  for (const v of ['1', 'true', 'True', 'TRUE', 'yes']) assert.is(boolParam(q(`a=${v}`), 'a'), true, v);
  for (const v of ['0', 'false', 'False', 'no', 'none', '', 'null', '[]', '{}']) assert.is(boolParam(q(`a=${v}`), 'a'), false, v);
  assert.is(boolParam(q(''), 'a'), false);
  assert.is(optionalBoolParam(q(''), 'a'), undefined);
  assert.is(optionalBoolParam(q('a=False'), 'a'), false);
});

test('unset values: null, [], {} and empty', () => {
  for (const v of ['', 'null', '[]', '{}']) {
    assert.is(stringParam(q(`a=${v}`), 'a'), undefined);
    assert.is(intParam(q(`a=${v}`), 'a'), undefined);
    assert.is(filtersParam(q(`filters=${v}`)), undefined);
  }
});

test('integers and times', () => {
  assert.is(intParam(q('t=10'), 't'), 10);
  assert.is(intParam(q('limit=-1'), 'limit'), -1);
  assert.throws(() => intParam(q('t=1.5'), 't'), /not an integer/);
  assert.is(timeParam(q('since=1795378306'), 'since'), 1795378306);
  assert.is(timeParam(q('since=1795378306.5'), 'since'), 1795378306.5);
  assert.is(timeParam(q('since=2026-11-22T20:11:46Z'), 'since'), Date.parse('2026-11-22T20:11:46Z') / 1000);
  assert.throws(() => timeParam(q('since=yesterday'), 'since'), /unix timestamp/);
});

test('filters in both encodings', () => {
  assert.equal(filtersParam(q(`filters=${encodeURIComponent('{"name":{"trc-":true}}')}`)), { name: ['trc-'] });
  assert.equal(filtersParam(q(`filters=${encodeURIComponent('{"label": ["trc=py", "a"]}')}`)), { label: ['trc=py', 'a'] });
  assert.throws(() => filtersParam(q('filters=[1]')), /expected a JSON object/);
  assert.throws(() => filtersParam(q(`filters=${encodeURIComponent('{"a":[1]}')}`)), /must be strings/);
  assert.throws(() => filtersParam(q('filters={x')), /invalid filters/);
});

test('version prefixes', () => {
  assert.equal(splitVersionPrefix('/v1.41/containers/json'), { ok: true, path: '/containers/json', version: '1.41' });
  assert.equal(splitVersionPrefix('/containers/json'), { ok: true, path: '/containers/json', version: '1.41' });
  assert.equal(splitVersionPrefix('/volumes'), { ok: true, path: '/volumes', version: '1.41' });
  assert.is(splitVersionPrefix('/v1.12/_ping').ok, true);
  assert.is(splitVersionPrefix('/v1.42/_ping').ok, false);
  assert.is(compareApiVersions('1.9', '1.12'), -1);
  assert.is(compareApiVersions('1.41', '1.41'), 0);
});

test.run();
