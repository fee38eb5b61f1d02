import { isBerthError } from '@berth/core';
import {
  familiarName,
  familiarString,
  normalizeReference,
  parseFullImageId,
  parseImageIdPrefix,
  parseReference,
  referenceString,
  withTag,
} from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const hex = `${'a'.repeat(32)}0123456789abcdef0123456789abcdef`;

// input → [fully qualified normalised reference, familiar string]
const good: Array<[string, string, string]> = [
  ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['busybox:latest', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['busybox:Latest', 'docker.io/library/busybox:Latest', 'busybox:Latest'],
  ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['docker.io/library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['docker.io/busybox:1', 'docker.io/library/busybox:1', 'busybox:1'],
  ['index.docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['trc/busybox:v1', 'docker.io/trc/busybox:v1', 'trc/busybox:v1'],
  ['docker.io/library/a/b', 'docker.io/library/a/b:latest', 'library/a/b:latest'],
  ['127.0.0.1:5010/x:1', '127.0.0.1:5010/x:1', '127.0.0.1:5010/x:1'],
  ['127.0.0.1:5010/trc/busybox:v1', '127.0.0.1:5010/trc/busybox:v1', '127.0.0.1:5010/trc/busybox:v1'],
  ['localhost/foo', 'localhost/foo:latest', 'localhost/foo:latest'],
  ['localhost:5000/a/b/c:tag', 'localhost:5000/a/b/c:tag', 'localhost:5000/a/b/c:tag'],
  ['example.com/busybox', 'example.com/busybox:latest', 'example.com/busybox:latest'],
  ['Example.COM/busybox', 'Example.COM/busybox:latest', 'Example.COM/busybox:latest'],
  ['foo_bar-qux/a__b--c.d:T_a.g-1', 'docker.io/foo_bar-qux/a__b--c.d:T_a.g-1', 'foo_bar-qux/a__b--c.d:T_a.g-1'],
  [`busybox@sha256:${hex}`, `docker.io/library/busybox@sha256:${hex}`, `busybox@sha256:${hex}`],
  [`busybox:1.36@sha256:${hex}`, `docker.io/library/busybox:1.36@sha256:${hex}`, `busybox:1.36@sha256:${hex}`],
  [`busybox:${'t'.repeat(128)}`, `docker.io/library/busybox:${'t'.repeat(128)}`, `busybox:${'t'.repeat(128)}`],
  // A 12-hex string is a valid name too (ImageStore.get tries it as a name first).
  ['01e7ee02ed05', 'docker.io/library/01e7ee02ed05:latest', '01e7ee02ed05:latest'],
];

for (const [input, full, familiar] of good) {
  test(`parses ${input.slice(0, 60)}`, () => {
    const ref = normalizeReference(input);
    assert.is(referenceString(ref), full);
    assert.is(familiarString(ref), familiar);
    // The familiar form parses back to the same reference.
    assert.equal(normalizeReference(familiarString(ref)), ref);
  });
}

test('parseReference adds no default tag; normalizeReference does', () => {
  const ref = parseReference('busybox');
  assert.equal(ref, { domain: 'docker.io', path: 'library/busybox' });
  assert.is(familiarName(ref), 'busybox');
  assert.is(normalizeReference(`busybox@sha256:${hex}`).tag, undefined);
});

// input → the message Docker gives (a regexp for the generic case)
const bad: Array<[string, string | RegExp]> = [
  ['Busybox', 'invalid reference format: repository name must be lowercase'],
  ['trc/Busybox:v1', 'invalid reference format: repository name must be lowercase'],
  ['localhost:5000/Foo', 'invalid reference format: repository name must be lowercase'],
  ['', 'invalid reference format: repository name must have at least one component'],
  ['a b', /^invalid reference format: "a b"$/],
  ['busybox:', /^invalid reference format/],
  [':latest', /^invalid reference format/],
  ['busybox:-tag', /^invalid reference format/],
  [`busybox:${'t'.repeat(129)}`, /^invalid reference format/],
  ['-busybox', /^invalid reference format/],
  ['busybox-', /^invalid reference format/],
  ['a/b//c', /^invalid reference format/],
  ['http://x/y', /^invalid reference format/],
  // A dot makes the first component a registry, and registries have no underscores.
  ['foo_bar.baz/x', /^invalid reference format/],
  ['busybox@sha256:abc', /^invalid reference format/],
  [`busybox@sha256:${'A'.repeat(64)}`, /^invalid checksum digest format/],
  [`busybox@sha256:${'a'.repeat(63)}0a`, /^invalid checksum digest length/],
  [`busybox@md5:${'a'.repeat(32)}`, /^unsupported digest algorithm/],
  ['a'.repeat(64), `invalid repository name (${'a'.repeat(64)}), cannot specify 64-byte hexadecimal strings`],
  [`x/${'a'.repeat(250)}`, 'invalid reference format: repository name must not be more than 255 characters'],
];

for (const [input, message] of bad) {
  test(`refuses ${JSON.stringify(input.slice(0, 40))}`, () => {
    try {
      parseReference(input);
      assert.unreachable(`${input} parsed`);
    } catch (err) {
      assert.ok(isBerthError(err, 'InvalidArgument'), String(err));
      const text = (err as Error).message;
      if (typeof message === 'string') assert.is(text, message);
      else assert.match(text, message);
    }
  });
}

test('withTag checks the tag', () => {
  const ref = parseReference('trc/busybox');
  assert.is(familiarString(withTag(ref, 'v2')), 'trc/busybox:v2');
  assert.throws(() => withTag(ref, '.bad'), /invalid tag format/);
});

test('image ids and id prefixes are told from names', () => {
  const full = 'f'.repeat(64);
  assert.is(parseFullImageId(full), `sha256:${full}`);
  assert.is(parseFullImageId(`sha256:${full}`), `sha256:${full}`);
  assert.is(parseFullImageId('sha256:abc'), undefined);
  assert.is(parseImageIdPrefix('sha256:abc'), 'abc');
  assert.is(parseImageIdPrefix('01e7ee02ed05'), '01e7ee02ed05');
  assert.is(parseImageIdPrefix(full), full);
  assert.is(parseImageIdPrefix('01e7'), undefined);
  assert.is(parseImageIdPrefix('01e7', 1), '01e7');
  assert.is(parseImageIdPrefix('busybox'), undefined);
  assert.is(parseImageIdPrefix('sha256:xyz'), undefined);
  assert.is(parseImageIdPrefix('0'.repeat(65)), undefined);
});

test.run();
