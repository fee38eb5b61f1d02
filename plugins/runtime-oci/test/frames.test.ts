import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeFrame, FrameDecoder, isCgroupV2, oomFiles } from '../src/index.js';

test('frames survive being split at every byte', () => {
  const wire = Buffer.concat([
    encodeFrame(1, Buffer.from('hello')),
    encodeFrame(2, Buffer.alloc(0)),
    encodeFrame(0, Buffer.from('x'.repeat(300))),
  ]);
  assert.equal([...wire.subarray(0, 5)], [1, 0, 0, 0, 5]);
  const decoder = new FrameDecoder();
  const got: Array<[number, string]> = [];
  for (let i = 0; i < wire.length; i++) decoder.push(wire.subarray(i, i + 1), (s, p) => got.push([s, p.toString()]));
  assert.equal(got, [
    [1, 'hello'],
    [2, ''],
    [0, 'x'.repeat(300)],
  ]);
});

test("oomFiles follow linux.cgroupsPath and the host's cgroup version", () => {
  const expected = isCgroupV2() ? '/sys/fs/cgroup/bnat/c1/memory.events' : '/sys/fs/cgroup/memory/bnat/c1/memory.oom_control';
  assert.equal(oomFiles({ linux: { cgroupsPath: '/bnat/c1' } }, 'c1'), [expected]);
  assert.ok(oomFiles({ linux: {} }, 'c2')[0]!.includes('/c2/'));
  assert.equal(oomFiles({ linux: { cgroupsPath: 'system.slice:berth:c3' } }, 'c3'), []);
  assert.equal(oomFiles(undefined, 'c4'), [], 'an unreadable bundle config gives none');
});

test.run();
