import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ContainerState } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { privateResolvConf } from '../src/containers/etc-files.js';
import { generateName, validateName } from '../src/containers/names.js';
import { humanDuration, statusText } from '../src/containers/status-text.js';
import { readLog, unixSeconds } from '../src/io/log-reader.js';

test('humanDuration follows docker ps wording', () => {
  assert.is(humanDuration(400), 'Less than a second');
  assert.is(humanDuration(1000), '1 second');
  assert.is(humanDuration(42_000), '42 seconds');
  assert.is(humanDuration(70_000), 'About a minute');
  assert.is(humanDuration(5 * 60_000), '5 minutes');
  assert.is(humanDuration(3 * 3600_000), '3 hours');
  assert.is(humanDuration(3 * 86400_000), '3 days');
});

test('statusText renders running, exited and created', () => {
  const now = Date.parse('2026-11-23T10:00:10Z');
  const base = { StartedAt: '2026-11-23T10:00:07Z', FinishedAt: '2026-11-23T10:00:05Z', ExitCode: 3 } as ContainerState;
  assert.is(statusText({ ...base, Status: 'running' }, now), 'Up 3 seconds');
  assert.is(statusText({ ...base, Status: 'exited' }, now), 'Exited (3) 5 seconds ago');
  assert.is(statusText({ ...base, Status: 'created' }, now), 'Created');
});

test("names: valid ones pass without their slash, invalid ones are refused with Docker's message", () => {
  assert.is(validateName('/web_1'), 'web_1');
  assert.is(validateName('x'), 'x');
  assert.throws(() => validateName('bad name'), /Invalid container name \(bad name\)/);
  assert.throws(() => validateName('-x'), /only \[a-zA-Z0-9\]/);
  const taken = new Set<string>();
  for (let i = 0; i < 100; i++) taken.add(generateName((n) => taken.has(n)));
  assert.is(taken.size, 100);
});

test('private resolv.conf drops loopback name servers and falls back to public ones', () => {
  assert.is(privateResolvConf('nameserver 127.0.0.53\nsearch lan\n'), 'search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.is(privateResolvConf('nameserver 10.0.0.2\n'), 'nameserver 10.0.0.2\n');
});

test('unixSeconds keeps sub-millisecond fractions', () => {
  assert.is(unixSeconds('2026-11-23T10:00:00.5Z'), Date.parse('2026-11-23T10:00:00Z') / 1000 + 0.5);
  assert.ok(unixSeconds('2026-11-23T10:00:00.000002Z') > unixSeconds('2026-11-23T10:00:00.000001Z'));
});

test('readLog honours streams, tail and since', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-log-');
  try {
    const file = path.join(dir, 'log.json');
    const lines = [
      { log: 'a\n', stream: 'stdout', time: '2026-11-23T10:00:01.000000000Z' },
      { log: 'b\n', stream: 'stderr', time: '2026-11-23T10:00:02.000000000Z' },
      { log: 'c\n', stream: 'stdout', time: '2026-11-23T10:00:03.000000000Z' },
    ];
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n{"log":"cut`);
    const read = async (opts: Parameters<typeof readLog>[1]) => {
      const out: string[] = [];
      for await (const l of readLog(file, opts, undefined)) out.push(`${l.stream}:${l.data}`);
      return out.join('');
    };
    assert.is(await read({ stdout: true, stderr: true }), 'stdout:a\nstderr:b\nstdout:c\n');
    assert.is(await read({ stdout: true, stderr: false }), 'stdout:a\nstdout:c\n');
    assert.is(await read({ stdout: true, stderr: true, tail: 1 }), 'stdout:c\n');
    assert.is(await read({ stdout: true, stderr: true, since: Date.parse('2026-11-23T10:00:02Z') / 1000 }), 'stderr:b\nstdout:c\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
