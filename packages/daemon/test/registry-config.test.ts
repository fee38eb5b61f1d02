import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mergeDaemonConfig, parseDaemonArgs, validateConfigObject } from '../src/index.js';

test('registry settings from daemon.json reach the daemon config', () => {
  const { settings, warnings } = validateConfigObject(
    {
      'insecure-registries': ['10.0.0.0/8', 'r.example:5000'],
      'registry-mirrors': ['https://mirror.example'],
      'max-concurrent-downloads': 1,
      'max-concurrent-uploads': 2,
    },
    'daemon.json',
  );
  assert.equal(warnings, []);
  const config = mergeDaemonConfig({}, settings);
  assert.equal(config.registry, {
    insecureRegistries: ['10.0.0.0/8', 'r.example:5000'],
    mirrors: ['https://mirror.example'],
    maxConcurrentDownloads: 1,
    maxConcurrentUploads: 2,
  });
  assert.is(mergeDaemonConfig({}, {}).registry, undefined);
});

test("registry flags are dockerd's, repeatable; bad values are refused by name", () => {
  const args = parseDaemonArgs([
    '--insecure-registry',
    'a:5000',
    '--insecure-registry=b:5000',
    '--registry-mirror',
    'http://m',
    '--max-concurrent-downloads',
    '4',
  ]);
  assert.equal(args.settings, {
    'insecure-registries': ['a:5000', 'b:5000'],
    'registry-mirrors': ['http://m'],
    'max-concurrent-downloads': 4,
  });
  assert.throws(() => mergeDaemonConfig({}, { 'max-concurrent-downloads': 1.5 }), /max-concurrent-downloads must be a whole number/);
  assert.throws(() => mergeDaemonConfig({}, { 'max-concurrent-uploads': 0 }), /max-concurrent-uploads must be a positive number/);
  assert.throws(
    () => mergeDaemonConfig({}, { 'registry-mirrors': ['mirror.example'] }),
    /registry-mirrors: invalid mirror "mirror.example"/,
  );
  assert.throws(
    () => validateConfigObject({ 'insecure-registries': 'a:5000' }, 'daemon.json'),
    /"insecure-registries" must be an array of strings/,
  );
});

test.run();
