import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { suiteTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ResolverControl } from '../src/dns/resolver-control.js';

// The resolver process for real (resolver-main.ts, through tsx as the tests run from
// source): started, adopted, replaced when killed, stopped with its files.

// A resolver's start loads Node and tsx: a few hundred milliseconds, more on a busy machine.
suiteTimeout(test, 20_000);

const dir = mkdtempSync('/tmp/berth-unit-dns-');
const control = new ResolverControl(path.join(dir, 'dns'));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test.after(async () => {
  await control.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('ensure starts one resolver, a second ensure adopts it, reload answers', async () => {
  await control.ensure();
  const pid = await control.pid();
  assert.ok(pid && alive(pid));
  assert.is(Number(readFileSync(control.pidFile, 'utf8')), pid);
  await control.ensure();
  assert.is(await control.pid(), pid, 'adopted, not started again');
  writeFileSync(path.join(control.dir, 'records.json'), JSON.stringify({ version: 1, networks: {}, reverse: {}, sandboxes: [] }));
  assert.is(await control.command('reload'), 'ok');
  assert.match(await control.command('ping'), `ok ${pid}`);
});

test('a resolver killed is replaced by the next ensure; stop ends it and removes its files', async () => {
  const first = (await control.pid())!;
  process.kill(first, 'SIGKILL');
  for (let i = 0; i < 100 && alive(first); i++) await new Promise((r) => setTimeout(r, 10));
  assert.is(await control.alive(), false);
  await control.ensure();
  const second = (await control.pid())!;
  assert.ok(second !== first && alive(second));
  await control.stop();
  assert.not.ok(alive(second));
  assert.not.ok(existsSync(control.socketPath));
  assert.not.ok(existsSync(control.pidFile));
  assert.is(await control.pid(), undefined);
});

test('a pid file naming another program is not this resolver: nothing is killed', async () => {
  writeFileSync(control.pidFile, `${process.pid}\n`);
  assert.is(await control.pid(), undefined);
  await control.stop();
  assert.ok(alive(process.pid));
});

test.run();
