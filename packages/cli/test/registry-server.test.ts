import { mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../src/main.js';
import { testIo } from './helpers.js';

// `berth registry` runs the registry in the CLI's own process: no daemon is involved.

test('registry serve answers /v2/ on the address it was given and stops at SIGTERM', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-cli-registry-');
  try {
    const io = testIo();
    const running = main(['registry', 'serve', '--addr', '127.0.0.1:0', '--root', path.join(dir, 'root')], io);
    let url: string | undefined;
    for (let i = 0; i < 200 && !url; i++) {
      url = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(io.out())?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(url, `listening: ${io.out()}${io.err()}`);
    const res = await fetch(`${url}/v2/`);
    assert.is(res.status, 200);
    assert.is(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    io.signal('SIGTERM');
    assert.is(await running, 0);
    assert.is(io.subscribers(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('registry serve refuses bad flags with the flag named; registry gc runs over an empty root', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-cli-registry-');
  try {
    let io = testIo();
    assert.is(await main(['registry', 'serve', '--addr', 'nonsense', '--root', dir], io), 1);
    assert.match(io.err(), /invalid --addr "nonsense"/);
    io = testIo();
    assert.is(await main(['registry', 'serve', '--token-realm', 'http://x/token', '--root', dir], io), 1);
    assert.match(io.err(), /--token-realm needs --token-auth/);
    io = testIo();
    assert.is(await main(['registry', 'gc', '--root', dir, '--grace', '0s'], io), 0);
    assert.match(io.out(), /marked 0 blob\(s\) from 0 manifest\(s\)/);
    io = testIo();
    assert.is(await main(['registry', 'gc', '--root', dir, '--grace', 'soon'], io), 1);
    assert.match(io.err(), /invalid --grace "soon"/);
    io = testIo();
    assert.is(await main(['registry', 'gc', '--root', path.join(dir, 'typo')], io), 1);
    assert.match(io.err(), /no registry storage at --root .*typo/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
