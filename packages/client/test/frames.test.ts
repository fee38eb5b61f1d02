import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeFrame, FrameDemuxer, type StreamType } from '../src/index.js';

function demuxAll(chunks: Buffer[]): Record<number, string> {
  const out: Record<number, Buffer[]> = {};
  const d = new FrameDemuxer((s: StreamType, data) => {
    out[s] ??= [];
    out[s].push(Buffer.from(data));
  });
  for (const c of chunks) d.push(c);
  assert.not.ok(d.truncated, 'stream ended on a frame boundary');
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Buffer.concat(v).toString()]));
}

const wire = Buffer.concat([
  encodeFrame(1, 'line1\nline2\n'),
  encodeFrame(2, 'to-err\n'),
  encodeFrame(1, ''),
  encodeFrame(1, 'tail'),
  encodeFrame(2, Buffer.alloc(70000, 0x61)),
]);

test('frames are split back into stdout and stderr', () => {
  const got = demuxAll([wire]);
  assert.is(got[1], 'line1\nline2\ntail');
  assert.is(got[2], `to-err\n${'a'.repeat(70000)}`);
});

test('every split point of the byte stream gives the same result', () => {
  const small = wire.subarray(0, 55); // the first four frames
  const whole = demuxAll([small]);
  for (let i = 1; i < small.length; i++) {
    assert.equal(demuxAll([small.subarray(0, i), small.subarray(i)]), whole, `split at ${i}`);
  }
  assert.equal(demuxAll([...small].map((b) => Buffer.from([b]))), whole, 'byte by byte');
});

test('the header is the documented 8 bytes', () => {
  assert.is(encodeFrame(1, 'line1\nline2\n').subarray(0, 8).toString('hex'), '010000000000000c');
  assert.is(encodeFrame(2, 'to-err\n').subarray(0, 8).toString('hex'), '0200000000000007');
});

test('raw (tty) output is refused instead of misread', () => {
  const d = new FrameDemuxer(() => {});
  assert.throws(() => d.push(Buffer.from('hello, world\r\n')), /unrecognized stream frame header/);
});

test('a stream cut inside a frame is reported as truncated', () => {
  const d = new FrameDemuxer(() => {});
  d.push(encodeFrame(1, 'abcdef').subarray(0, 10));
  assert.ok(d.truncated);
});

test.run();
