import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gunzipMember, gzipMember, markedMemberLength } from '../src/index.js';

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

test('a member says its own length in its header; gunzipMember inflates exactly one member of the size given', async () => {
  const input = text(1 << 20);
  const member = await gzipMember(input);
  assert.is(markedMemberLength(member), member.length);
  assert.is(markedMemberLength(member.subarray(0, 19)), undefined);
  // Another tool's gzip (no such extra field) is not marked.
  assert.is(markedMemberLength(gzipSync(input)), undefined);
  assert.ok((await gunzipMember(member, input.length)).equals(input));
  const empty = await gzipMember(Buffer.alloc(0));
  assert.is((await gunzipMember(empty, 0)).length, 0);
  // Plain gzips inflate too when whole and of the size given.
  assert.ok((await gunzipMember(gzipSync(input), input.length)).equals(input));
});

test('gunzipMember refuses a corrupt, truncated or trailing-byte member, or the wrong size', async () => {
  const input = text(200_000);
  const member = await gzipMember(input);
  const corrupt = Buffer.from(member);
  corrupt[corrupt.length - 20]! ^= 0xff;
  const cases: Array<[Buffer, number]> = [
    [corrupt, input.length],
    [member.subarray(0, member.length - 1), input.length],
    [Buffer.concat([member, Buffer.from([0])]), input.length],
    [member, input.length - 1],
    [member, input.length + 1],
  ];
  for (const [bytes, size] of cases) {
    await gunzipMember(bytes, size).then(
      () => assert.unreachable('accepted'),
      (err: Error) => assert.match(err.message, /gunzipMember: not one whole gzip member of the size given/),
    );
  }
  assert.throws(() => gunzipMember(member, -1), /size must be an integer/);
});

test.run();
