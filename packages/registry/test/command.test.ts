import { parseAddr, parseDuration, registryMain, serveOptions } from '@berth/registry';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('--addr: host:port, :port, [ipv6]:port; anything else is refused naming the flag', () => {
  assert.equal(parseAddr('127.0.0.1:5000'), { host: '127.0.0.1', port: 5000 });
  assert.equal(parseAddr(':5000'), { host: undefined, port: 5000 });
  assert.equal(parseAddr('[::1]:0'), { host: '::1', port: 0 });
  for (const bad of ['5000', 'host:', 'host:70000', '']) assert.throws(() => parseAddr(bad), /invalid --addr/);
});

test('durations: Go-style terms; garbage is refused naming the flag', () => {
  assert.is(parseDuration('90s', 'grace'), 90_000);
  assert.is(parseDuration('1h30m', 'grace'), 5_400_000);
  assert.is(parseDuration('0s', 'grace'), 0);
  assert.is(parseDuration('250ms', 'grace'), 250);
  for (const bad of ['', '10', '1d', 'h', '5m junk']) assert.throws(() => parseDuration(bad, 'grace'), /invalid --grace/);
});

test('serve flags: token settings need --token-auth; the TTL is read as a duration', () => {
  const values = (v: Record<string, string | boolean>) => (long: string) => v[long];
  assert.throws(() => serveOptions(values({ 'token-key': '/k' })), /--token-key needs --token-auth/);
  const o = serveOptions(values({ 'token-auth': true, 'token-ttl': '2m', htpasswd: '/h', root: '/r' }));
  assert.equal(o.token, { realm: undefined, service: undefined, keyFile: undefined, ttlSeconds: 120 });
  assert.is(o.root, '/r');
  assert.is(o.addr, ':5000');
});

test('berth-registry: --help lists the flags; unknown flags and missing values are usage errors (125)', async () => {
  const out: string[] = [];
  const err: string[] = [];
  assert.is(
    await registryMain(
      ['gc', '--help'],
      (l) => out.push(l),
      (l) => err.push(l),
    ),
    0,
  );
  assert.match(out.join('\n'), /--upload-expiry string\s+Remove upload sessions idle this long \(default 24h\)/);
  assert.is(
    await registryMain(
      ['--nope'],
      (l) => out.push(l),
      (l) => err.push(l),
    ),
    125,
  );
  assert.is(
    await registryMain(
      ['serve', '--root'],
      (l) => out.push(l),
      (l) => err.push(l),
    ),
    125,
  );
  assert.match(err.join('\n'), /unknown argument "--nope"[\s\S]*flag needs an argument: --root/);
  assert.is(
    await registryMain(
      ['gc', '--root', '/nonexistent/berth-registry-root'],
      (l) => out.push(l),
      (l) => err.push(l),
    ),
    1,
  );
  assert.match(err.join('\n'), /no registry storage at --root/);
});

test.run();
