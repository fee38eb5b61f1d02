import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gzipMember } from '../src/index.js';

function text(bytes: number): Buffer {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];
  let s = '';
  for (let i = 0; s.length < bytes; i++) s += `${words[i % 6]}=${(i * 7919) % 100_003} ${words[(i * 5) % 6]}\n`;
  return Buffer.from(s.slice(0, bytes));
}

test('a member is a gzip zlib reads back, smaller than its input for text, the same bytes each time', async () => {
  const input = text(3 << 20);
  const out = await gzipMember(input);
  assert.equal(out.subarray(0, 3), Buffer.from([0x1f, 0x8b, 8]));
  assert.ok(out.length < input.length / 3, `${out.length} bytes for ${input.length}`);
  assert.ok(gunzipSync(out).equals(input));
  assert.ok((await gzipMember(input)).equals(out), 'deterministic');
  assert.not.ok((await gzipMember(input, 6)).equals(out), 'the level is applied');
});

test('members concatenated read as one stream, random and empty inputs included, several at once', async () => {
  const parts = [text(1 << 20), randomBytes(300_000), Buffer.alloc(0), text(12345)];
  const members = await Promise.all(parts.map((p) => gzipMember(p)));
  assert.ok(gunzipSync(Buffer.concat(members)).equals(Buffer.concat(parts)));
  assert.ok(gunzipSync(members[2]!).equals(Buffer.alloc(0)));
});

test('bad arguments throw at the call', () => {
  assert.throws(() => gzipMember('x' as unknown as Buffer), /input must be a Buffer/);
  assert.throws(() => gzipMember(Buffer.from('x'), 0), /level must be an integer from 1 to 12/);
  assert.throws(() => gzipMember(Buffer.from('x'), 1.5), /level must be an integer from 1 to 12/);
});

test.run();
