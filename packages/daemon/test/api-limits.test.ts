import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, connectionBudget, mergeDaemonConfig, openFileLimit, parseDaemonArgs, validateConfigObject } from '../src/index.js';

test('api-* flags parse as positive numbers and reach the API limits in milliseconds', () => {
  const args = parseDaemonArgs([
    '--api-max-connections',
    '200',
    '--api-headers-timeout=2.5',
    '--api-idle-timeout',
    '7',
    '--api-body-idle-timeout',
    '90',
  ]);
  assert.equal(args.settings, {
    'api-max-connections': 200,
    'api-headers-timeout': 2.5,
    'api-idle-timeout': 7,
    'api-body-idle-timeout': 90,
  });
  assert.equal(mergeDaemonConfig(args.settings, {}).apiLimits, {
    maxConnections: 200,
    headersTimeoutMs: 2500,
    idleTimeoutMs: 7000,
    bodyIdleTimeoutMs: 90_000,
  });
  assert.throws(
    () => parseDaemonArgs(['--api-idle-timeout', '0']),
    /invalid argument "0" for "--api-idle-timeout" flag: expected a positive number/,
  );
  assert.throws(() => parseDaemonArgs(['--api-max-connections=lots']), /invalid argument "lots"/);
});

test('api-* keys in daemon.json are numbers; a fractional connection count is refused', () => {
  const { settings } = validateConfigObject({ 'api-max-connections': 1000, 'api-body-idle-timeout': 300 }, 'daemon.json');
  assert.equal(mergeDaemonConfig({}, settings).apiLimits, { maxConnections: 1000, bodyIdleTimeoutMs: 300_000 });
  assert.throws(
    () => validateConfigObject({ 'api-headers-timeout': '10s' }, 'daemon.json'),
    /"api-headers-timeout" must be a number, got string/,
  );
  assert.throws(
    () => mergeDaemonConfig({}, { 'api-max-connections': 10.5 }),
    (e: Error) => e instanceof ConfigError && /whole number/.test(e.message),
  );
  assert.throws(() => mergeDaemonConfig({}, { 'api-idle-timeout': -1 }), /api-idle-timeout must be a positive number, got -1/);
});

test('connections per socket take at most half the file descriptor limit, shared among the sockets', () => {
  assert.equal(connectionBudget(4096, 1, 1_048_576), { max: 4096, clipped: false });
  assert.equal(connectionBudget(4096, 1, 1024), { max: 512, clipped: true });
  assert.equal(connectionBudget(4096, 2, 4096), { max: 1024, clipped: true });
  assert.equal(connectionBudget(4096, 1, 10), { max: 16, clipped: true });
  assert.equal(connectionBudget(100, 1, undefined), { max: 100, clipped: false });
  const limit = openFileLimit();
  assert.ok(limit === undefined || limit > 0);
});

test.run();
