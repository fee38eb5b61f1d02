import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { LogLine } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readLog } from '../src/io/log-reader.js';

let dir = '';
test.before.each(() => {
  dir = mkdtempSync('/tmp/berth-unit-engine-logs-');
});
test.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

function entry(text: string, second: number, stream = 'stdout'): string {
  return `${JSON.stringify({ log: `${text}\n`, stream, time: `2024-05-01T10:00:${String(second).padStart(2, '0')}.000000001Z` })}\n`;
}

async function collect(lines: AsyncIterable<LogLine>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of lines) out.push(l.data.toString().trimEnd());
  return out;
}

const all = { stdout: true, stderr: true };

test('rotated files are read oldest first, then the current one; tail, since and until span them', async () => {
  const log = path.join(dir, 'c-json.log');
  writeFileSync(`${log}.2`, entry('a', 1) + entry('b', 2));
  writeFileSync(`${log}.1`, entry('c', 3) + entry('d', 4, 'stderr'));
  writeFileSync(log, entry('e', 5) + entry('f', 6));
  assert.equal(await collect(readLog(log, all, undefined)), ['a', 'b', 'c', 'd', 'e', 'f']);
  assert.equal(await collect(readLog(log, { ...all, tail: 3 }, undefined)), ['d', 'e', 'f']);
  assert.equal(await collect(readLog(log, { ...all, tail: 0 }, undefined)), []);
  const since = Date.parse('2024-05-01T10:00:02Z') / 1000;
  const until = Date.parse('2024-05-01T10:00:05Z') / 1000;
  assert.equal(await collect(readLog(log, { ...all, since, until }, undefined)), ['b', 'c', 'd']);
  assert.equal(await collect(readLog(log, { stdout: true, stderr: false }, undefined)), ['a', 'b', 'c', 'e', 'f']);
});

test('following loses no line across a rotation: the old file is read to its end, then the new one', async () => {
  const log = path.join(dir, 'c-json.log');
  writeFileSync(log, entry('one', 1));
  let done = false;
  const listeners = new Set<() => void>();
  const follow = {
    isDone: () => done,
    onDone: (cb: () => void) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
  const it = readLog(log, all, follow)[Symbol.asyncIterator]();
  assert.is((await it.next()).value?.data.toString(), 'one\n');
  const next = it.next(); // waits for more
  appendFileSync(log, entry('two', 2)); // written before the rotation
  renameSync(log, `${log}.1`);
  writeFileSync(log, entry('three', 3));
  const rest = [(await next).value?.data.toString().trimEnd()];
  appendFileSync(log, entry('four', 4));
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    rest.push(r.value.data.toString().trimEnd());
    if (r.value.data.toString() === 'four\n') {
      done = true;
      for (const l of listeners) l();
    }
  }
  assert.equal(rest, ['two', 'three', 'four']);
});

test('following loses no line when several rotations pass between two reads: each file in between is read', async () => {
  const log = path.join(dir, 'c-json.log');
  writeFileSync(log, entry('one', 1));
  let done = false;
  const listeners = new Set<() => void>();
  const follow = {
    isDone: () => done,
    onDone: (cb: () => void) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
  const it = readLog(log, all, follow)[Symbol.asyncIterator]();
  assert.is((await it.next()).value?.data.toString(), 'one\n');
  // Two rotations before the reader looks again, as the shim does them: .1 → .2, live → .1.
  appendFileSync(log, entry('two', 2));
  renameSync(log, `${log}.1`);
  writeFileSync(log, entry('three', 3));
  renameSync(`${log}.1`, `${log}.2`);
  renameSync(log, `${log}.1`);
  writeFileSync(log, entry('four', 4));
  const rest: string[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    rest.push(r.value.data.toString().trimEnd());
    if (r.value.data.toString() === 'four\n') {
      done = true;
      for (const l of listeners) l();
    }
  }
  assert.equal(rest, ['two', 'three', 'four']);
});

test('a log emptied in place (max-file 1) is followed from its start again', async () => {
  const log = path.join(dir, 'c-json.log');
  writeFileSync(log, entry('old-1', 1) + entry('old-2', 2));
  let done = false;
  const it = readLog(log, all, { isDone: () => done, onDone: () => () => {} })[Symbol.asyncIterator]();
  assert.is((await it.next()).value?.data.toString(), 'old-1\n');
  assert.is((await it.next()).value?.data.toString(), 'old-2\n');
  const next = it.next();
  writeFileSync(log, entry('new', 3)); // truncates: shorter than what was read
  assert.is((await next).value?.data.toString(), 'new\n');
  done = true;
  assert.ok((await it.next()).done);
});

test.run();
