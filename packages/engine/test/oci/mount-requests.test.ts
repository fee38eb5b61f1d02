import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mountRequest } from '../../src/oci/mount-requests.js';

const exists = (p: string) => p === '/host/dir';

test('--mount type=bind: rbind (bind with nonrecursive), readonly, propagation; the source must exist', () => {
  assert.equal(mountRequest({ Type: 'bind', Source: '/host/dir', Target: '/x/' }, exists), {
    kind: 'mount',
    destination: '/x',
    mount: { destination: '/x', type: 'bind', source: '/host/dir', options: ['rbind', 'rprivate'] },
  });
  const ro = mountRequest(
    { Type: 'bind', Source: '/host/dir', Target: '/x', ReadOnly: true, BindOptions: { Propagation: 'rslave', NonRecursive: true } },
    exists,
  );
  assert.equal(ro.kind === 'mount' && ro.mount.options, ['bind', 'ro', 'rslave']);
  assert.throws(() => mountRequest({ Type: 'bind', Source: '/nope', Target: '/x' }, exists), /bind source path does not exist: \/nope/);
  assert.throws(() => mountRequest({ Type: 'bind', Source: 'rel', Target: '/x' }, exists), /mount path must be absolute/);
  assert.throws(
    () => mountRequest({ Type: 'bind', Source: '/host/dir', Target: '/x', BindOptions: { Propagation: 'weird' } }, exists),
    /invalid propagation mode: weird/,
  );
  assert.throws(
    () => mountRequest({ Type: 'bind', Source: '/host/dir', Target: '/x', VolumeOptions: { NoCopy: true } }, exists),
    /VolumeOptions must not be specified/,
  );
});

test('--mount type=volume: named or anonymous, with nocopy, driver, options and labels for a volume made on first use', () => {
  const v = mountRequest({
    Type: 'volume',
    Source: 'data',
    Target: '/data',
    ReadOnly: true,
    VolumeOptions: { NoCopy: true, Labels: { a: 'b' }, DriverConfig: { Name: 'local', Options: { type: 'tmpfs', device: 'tmpfs' } } },
  });
  assert.ok(v.kind === 'volume');
  if (v.kind !== 'volume') return;
  assert.is(v.volume.name, 'data');
  assert.is(v.volume.readonly, true);
  assert.is(v.volume.nocopy, true);
  assert.is(v.volume.driver, 'local');
  assert.equal(v.volume.driverOptions, { type: 'tmpfs', device: 'tmpfs' });
  assert.equal(v.volume.labels, { a: 'b' });
  const anon = mountRequest({ Type: 'volume', Target: '/anon' });
  assert.is(anon.kind === 'volume' && anon.volume.name, '');
  assert.throws(() => mountRequest({ Type: 'volume', Source: '../x', Target: '/x' }), /includes invalid characters/);
});

test('--mount type=tmpfs: size and mode, no source; an unknown type or a relative target is refused', () => {
  const t = mountRequest({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 65536, Mode: 0o1770 } });
  assert.equal(t.kind === 'mount' && t.mount, {
    destination: '/t',
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['noexec', 'nosuid', 'nodev', 'size=65536', 'mode=1770'],
  });
  assert.throws(() => mountRequest({ Type: 'tmpfs', Source: 'x', Target: '/t' }), /source must not be specified/);
  assert.throws(() => mountRequest({ Type: 'npipe', Target: '/t' }), /mount type unknown: "npipe"/);
  assert.throws(() => mountRequest({ Type: 'tmpfs', Target: 't' }), /mount path must be absolute/);
  assert.throws(() => mountRequest({ Type: 'tmpfs', Target: '/' }), /destination can't be '\/'/);
});

test.run();
