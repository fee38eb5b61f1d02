import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../src/main.js';
import { testIo } from './helpers.js';

// `berth storage migrate` runs berthd's offline migration (`berthd storage migrate`): no
// API call. $BERTHD names the program; a stand-in script shows what it was given.

function standIn(dir: string, body: string): string {
  const file = path.join(dir, 'berthd');
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

test('the flags go to berthd storage migrate; its output and exit status come back', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-cli-migrate-');
  try {
    const berthd = standIn(dir, 'echo "args: $*"; echo "refused" >&2; exit 3');
    const io = testIo({ env: { BERTHD: berthd } });
    const code = await main(['storage', 'migrate', '--to', 'vfs', '--data-root', '/srv/data', '--pidfile', '/run/x.pid'], io);
    assert.is(code, 3);
    assert.is(io.out(), 'args: storage migrate --to vfs --data-root /srv/data --pidfile /run/x.pid\n');
    assert.is(io.err(), 'refused\n');
    const abort = testIo({ env: { BERTHD: berthd } });
    await main(['storage', 'migrate', '--abort'], abort);
    assert.is(abort.out(), 'args: storage migrate --abort\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a berthd that cannot be run is a clear error, exit 1', async () => {
  const io = testIo({ env: { BERTHD: '/nonexistent/berthd' } });
  assert.is(await main(['storage', 'migrate', '--to', 'vfs'], io), 1);
  assert.match(io.err(), /cannot run berthd for the migration: .*ENOENT.* \(set BERTHD to its path\)/);
});

test.run();
