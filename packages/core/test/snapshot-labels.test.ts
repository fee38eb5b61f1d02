import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkSnapshotLabels,
  MAX_SNAPSHOT_LABEL_BYTES,
  MAX_SNAPSHOT_LABELS_BYTES,
  ownerLabels,
  SnapshotLabels,
} from '../src/contracts/snapshot-labels.js';
import { InvalidArgument } from '../src/errors.js';

/** The InvalidArgument `labels` are refused with. */
function refusal(labels: unknown): InvalidArgument {
  try {
    checkSnapshotLabels(labels as Record<string, string>);
  } catch (err) {
    assert.instance(err, InvalidArgument);
    return err as InvalidArgument;
  }
  assert.unreachable(`labels ${JSON.stringify(labels)} were accepted`);
  throw new Error('unreachable');
}

test('no labels are {}, and valid ones come back as a copy the caller cannot change', () => {
  assert.equal(checkSnapshotLabels(undefined), {});
  const given = { 'berth.owner.kind': 'container', 'a=b,c': 'ünï\ncode', empty: '' };
  const checked = checkSnapshotLabels(given);
  assert.equal(checked, given);
  given.empty = 'changed';
  assert.is(checked.empty, '', 'the copy followed a change of the original');
});

test('a key named __proto__ stays a plain label of the copy', () => {
  const given = JSON.parse('{"__proto__": "x"}') as Record<string, string>;
  const checked = checkSnapshotLabels(given);
  assert.equal(Object.keys(checked), ['__proto__']);
  assert.is(Object.getPrototypeOf(checked), Object.prototype);
  assert.equal(JSON.parse(JSON.stringify(checked)), given);
});

test('refused, naming the label: not an object, an empty key, a value that is not a string', () => {
  assert.match(refusal(null).message, /must be an object of strings, not null/);
  assert.match(refusal(['a']).message, /must be an object of strings/);
  assert.match(refusal('a=b').message, /not string/);
  assert.match(refusal({ '': 'x' }).message, /empty key/);
  assert.match(refusal({ ok: 'x', 'berth.owner.id': 7 }).message, /"berth\.owner\.id": the value must be a string, not number/);
  assert.match(refusal({ nothing: null }).message, /"nothing".*not null/);
  assert.match(refusal({ missing: undefined }).message, /"missing".*not undefined/);
});

test('size limits: one label (key and value, UTF-8 bytes) and all labels together', () => {
  const key = 'k';
  assert.equal(Object.keys(checkSnapshotLabels({ [key]: 'v'.repeat(MAX_SNAPSHOT_LABEL_BYTES - 1) })), [key]);
  assert.match(refusal({ big: 'v'.repeat(MAX_SNAPSHOT_LABEL_BYTES) }).message, /"big": key and value take 4099 bytes, more than 4096/);
  // 'é' is two bytes: counted as bytes, not characters.
  refusal({ [key]: 'é'.repeat(MAX_SNAPSHOT_LABEL_BYTES / 2) });
  const many = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`label-${i}`, 'v'.repeat(4000)]));
  assert.match(refusal(many).message, /labels take 20035 bytes in all, more than 16384/);
  assert.ok(MAX_SNAPSHOT_LABELS_BYTES < 20035);
  assert.is(Object.keys(checkSnapshotLabels(Object.fromEntries(Object.entries(many).slice(0, 4)))).length, 4);
});

test('ownerLabels writes the well-known keys', () => {
  assert.equal(ownerLabels('container', 'abc'), { 'berth.owner.kind': 'container', 'berth.owner.id': 'abc' });
  assert.equal(Object.keys(ownerLabels('image-extract', 'sha256:x')), [SnapshotLabels.ownerKind, SnapshotLabels.ownerId]);
});

test.run();
