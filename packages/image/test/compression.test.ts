import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { gzipMember } from '@berth/native';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decompress } from '../src/index.js';
import { chunked, collect, rejects } from './helpers.js';

function text(bytes: number): Buffer {
  let s = '';
  for (let i = 0; s.length < bytes; i++) s += `line ${i} ${(i * 7919) % 100_003}\n`;
  return Buffer.from(s.slice(0, bytes));
}

/** The gzip berth's push makes of `data`: one member per MiB, each saying its length. */
async function berthGzip(data: Buffer): Promise<Buffer> {
  const members: Buffer[] = [];
  for (let at = 0; at < data.length || at === 0; at += 1 << 20) members.push(await gzipMember(data.subarray(at, at + (1 << 20))));
  return Buffer.concat(members);
}

async function inflate(bytes: Buffer, chunk = 65_536): Promise<Buffer> {
  const { compression, stream } = await decompress(chunked(bytes, chunk));
  assert.is(compression, 'gzip');
  return collect(stream);
}

test("berth's gzip members inflate whole at any chunk size; so do another tool's gzip and a mix of both", async () => {
  const data = Buffer.concat([text(2_500_000), randomBytes(700_000)]);
  const members = await berthGzip(data);
  for (const chunk of [777, 65_536, 5 << 20]) assert.ok((await inflate(members, chunk)).equals(data), `chunks of ${chunk}`);
  assert.ok((await inflate(gzipSync(data))).equals(data));
  const tail = text(300_000);
  assert.ok((await inflate(Buffer.concat([members, gzipSync(tail)]))).equals(Buffer.concat([data, tail])));
  assert.ok((await inflate(await berthGzip(Buffer.alloc(0)))).equals(Buffer.alloc(0)));
  // Zeros after the last member are ignored, as zlib ignores them.
  assert.ok((await inflate(Buffer.concat([members, Buffer.alloc(512)]))).equals(data));
});

test("berth's gzip members cut short or corrupt are refused as corrupt gzip data", async () => {
  const data = text(3_000_000);
  const members = await berthGzip(data);
  await rejects(() => inflate(members.subarray(0, members.length - 100)), /^corrupt gzip data: /);
  const corrupt = Buffer.from(members);
  corrupt[Math.floor(members.length / 2)]! ^= 0xff;
  await rejects(() => inflate(corrupt), /^corrupt gzip data: /);
});

test.run();
