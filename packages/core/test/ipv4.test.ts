import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  formatIpv4,
  formatIpv4Prefix,
  isBerthError,
  macFromIpv4,
  parseIpv4,
  parseIpv4Prefix,
  parseMacAddress,
  prefixContains,
  prefixesOverlap,
  prefixSize,
} from '../src/index.js';

test('addresses and prefixes round-trip; host bits and malformed text are refused by name', () => {
  assert.is(formatIpv4(parseIpv4('10.199.3.254')), '10.199.3.254');
  assert.is(parseIpv4('255.255.255.255'), 0xffffffff);
  const p = parseIpv4Prefix('172.17.0.0/16');
  assert.equal(p, { base: parseIpv4('172.17.0.0'), bits: 16 });
  assert.is(formatIpv4Prefix(p), '172.17.0.0/16');
  assert.is(prefixSize(p), 65536);
  assert.is(formatIpv4Prefix(parseIpv4Prefix('0.0.0.0/0')), '0.0.0.0/0');
  for (const bad of ['10.1.2.3/24', '10.1.2/24', '10.1.2.300/24', '10.0.0.0/33', 'x']) {
    try {
      parseIpv4Prefix(bad);
      assert.unreachable(bad);
    } catch (err) {
      assert.ok(isBerthError(err, 'InvalidArgument'), String(err));
      assert.match((err as Error).message, bad);
    }
  }
  assert.match(
    String(
      (() => {
        try {
          parseIpv4Prefix('10.1.2.3/24');
        } catch (e) {
          return e;
        }
      })(),
    ),
    /did you mean 10\.1\.2\.0\/24/,
  );
});

test('containment and overlap', () => {
  const a = parseIpv4Prefix('10.199.0.0/16');
  const b = parseIpv4Prefix('10.199.7.0/24');
  const c = parseIpv4Prefix('10.198.0.0/16');
  assert.ok(prefixContains(a, parseIpv4('10.199.255.1')));
  assert.not.ok(prefixContains(b, parseIpv4('10.199.8.1')));
  assert.ok(prefixesOverlap(a, b));
  assert.ok(prefixesOverlap(b, a));
  assert.not.ok(prefixesOverlap(a, c));
  assert.ok(prefixesOverlap(parseIpv4Prefix('0.0.0.0/0'), c));
});

test("MAC addresses: Docker's derivation from the IPv4 address, and checks of a requested one", () => {
  assert.is(macFromIpv4('172.17.0.2'), '02:42:ac:11:00:02');
  assert.is(parseMacAddress('02:AA:bb:cc:dd:ee'), '02:aa:bb:cc:dd:ee');
  assert.throws(() => parseMacAddress('02:aa:bb:cc:dd'), /invalid MAC address/);
  assert.throws(() => parseMacAddress('01:00:5e:00:00:01'), /multicast/);
});

test.run();
