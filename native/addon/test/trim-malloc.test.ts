import { readFileSync } from 'node:fs';
import * as zlib from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { trimMalloc } from '../src/index.js';

const rssKiB = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

test('trimMalloc gives freed native memory back to the kernel', async () => {
  // zlib's deflate state lives in malloc: hundreds of them, used and then freed, leave
  // the arenas full of free pages that glibc keeps.
  const streams = Array.from({ length: 400 }, () => zlib.createDeflate({ level: 9, memLevel: 9 }));
  await Promise.all(streams.map((s) => new Promise<void>((resolve) => s.write('x', () => s.flush(() => resolve())))));
  await Promise.all(streams.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await new Promise((resolve) => setImmediate(resolve));
  const before = rssKiB();
  const released = trimMalloc();
  const after = rssKiB();
  assert.ok(released, 'malloc_trim released memory');
  assert.ok(after < before, `the resident set shrank (${before} → ${after} KiB)`);
  assert.type(trimMalloc(), 'boolean', 'a second call is harmless');
});

test.run();
