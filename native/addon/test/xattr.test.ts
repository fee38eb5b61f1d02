import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getXattr, listXattrs, mountSpec, removeXattr, setXattr, setXattrAt, unmountAll } from '../src/index.js';

test('getXattr reads the opaque mark overlayfs puts on a directory made again, and null where there is none', () => {
  const dir = mkdtempSync('/tmp/berth-unit-xattr-');
  try {
    for (const d of ['lower/d', 'upper', 'work', 'merged']) mkdirSync(path.join(dir, d), { recursive: true });
    writeFileSync(path.join(dir, 'lower/d/old'), 'x');
    const options = [`lowerdir=${dir}/lower`, `upperdir=${dir}/upper`, `workdir=${dir}/work`];
    mountSpec({ type: 'overlay', source: 'overlay', options }, path.join(dir, 'merged'));
    try {
      rmSync(path.join(dir, 'merged/d'), { recursive: true });
      mkdirSync(path.join(dir, 'merged/d'));
      mkdirSync(path.join(dir, 'merged/e'));
    } finally {
      unmountAll(path.join(dir, 'merged'));
    }
    assert.is(getXattr(path.join(dir, 'upper/d'), 'trusted.overlay.opaque'), 'y');
    assert.is(getXattr(path.join(dir, 'upper/e'), 'trusted.overlay.opaque'), null);
    assert.throws(
      () => getXattr(path.join(dir, 'missing'), 'trusted.overlay.opaque'),
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
    );
  } finally {
    unmountAll(path.join(dir, 'merged'));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('setXattr and setXattrAt write raw bytes (a file capability) that getXattr reads back; errors are errnos', () => {
  const dir = mkdtempSync('/tmp/berth-unit-xattr-');
  try {
    writeFileSync(path.join(dir, 'bin'), 'x');
    // security.capability of `setcap cap_net_raw+ep`: binary, with NUL bytes.
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    setXattr(path.join(dir, 'bin'), 'security.capability', cap);
    assert.is(getXattr(path.join(dir, 'bin'), 'security.capability'), cap.toString('latin1'));
    const fd = openSync(dir, 'r');
    try {
      setXattrAt(fd, 'user.berth', Buffer.from('kept'));
    } finally {
      closeSync(fd);
    }
    assert.is(getXattr(dir, 'user.berth'), 'kept');
    assert.throws(
      () => setXattr(path.join(dir, 'missing'), 'user.berth', Buffer.from('x')),
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
    );
    assert.throws(
      () => setXattrAt(-1, 'user.berth', Buffer.from('x')),
      (e: NodeJS.ErrnoException) => e.code === 'EBADF',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('listXattrs names what a file carries and removeXattr takes one away; errors are errnos', () => {
  const dir = mkdtempSync('/tmp/berth-unit-xattr-');
  try {
    const file = path.join(dir, 'f');
    writeFileSync(file, 'x');
    assert.equal(listXattrs(file), []);
    setXattr(file, 'user.one', Buffer.from('1'));
    setXattr(file, 'user.two', Buffer.from('2'));
    assert.equal(listXattrs(file).sort(), ['user.one', 'user.two']);
    removeXattr(file, 'user.one');
    assert.equal(listXattrs(file), ['user.two']);
    assert.throws(
      () => removeXattr(file, 'user.one'),
      (e: NodeJS.ErrnoException) => e.code === 'ENODATA',
    );
    assert.throws(
      () => listXattrs(path.join(dir, 'missing')),
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
