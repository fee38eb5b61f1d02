import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ContainerRecord } from '../src/containers/container-record.js';
import { volumesFromBinds } from '../src/containers/volumes-from.js';

const source = {
  id: 'src',
  hostConfig: { Binds: ['/host/a:/a:ro', 'named:/named'] },
  volumesFromBinds: ['/host/b:/b:rw,rprivate'],
  volumes: [
    { name: 'named', driver: 'local', source: '/v/named/_data', destination: '/named', readOnly: false, anonymous: false, mode: 'z' },
    { name: 'f'.repeat(64), driver: 'local', source: '/v/anon/_data', destination: '/anon', readOnly: true, anonymous: true, mode: '' },
  ],
} as unknown as ContainerRecord;
const find = (ref: string) => (ref === 'src' ? source : undefined);

test('--volumes-from: volumes as named -v entries, binds with their modes, ro/rw overriding; own destinations win', () => {
  assert.equal(volumesFromBinds(['src'], find, new Set()), [
    'named:/named',
    `${'f'.repeat(64)}:/anon:ro`,
    '/host/a:/a:ro,rprivate',
    '/host/b:/b:rw,rprivate',
  ]);
  assert.equal(volumesFromBinds(['src:rw'], find, new Set(['/named'])), [
    `${'f'.repeat(64)}:/anon`,
    '/host/a:/a:rw,rprivate',
    '/host/b:/b:rw,rprivate',
  ]);
  assert.equal(volumesFromBinds(['src:ro'], find, new Set(['/a', '/b', '/anon'])), ['named:/named:ro']);
  assert.equal(volumesFromBinds(null, find, new Set()), []);
});

test('--volumes-from: an unknown container or mode is a 400 naming it', () => {
  assert.throws(() => volumesFromBinds(['nosuch'], find, new Set()), /No such container: nosuch/);
  assert.throws(() => volumesFromBinds(['src:rx'], find, new Set()), /invalid mode for volumes-from: rx/);
});

test.run();
