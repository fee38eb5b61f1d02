import { closeSync, constants, mkdirSync, mkdtempSync, readSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openInRoot, resolveInRoot } from '../src/index.js';

function withRoot(fn: (root: string) => void): void {
  const root = mkdtempSync('/tmp/berth-unit-root-');
  try {
    mkdirSync(path.join(root, 'etc'));
    mkdirSync(path.join(root, 'usr/lib'), { recursive: true });
    writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
    fn(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('an absolute symlink to /etc/shadow resolves inside the root', () => {
  withRoot((root) => {
    symlinkSync('/etc/shadow', path.join(root, 'shadowlink'));
    assert.is(resolveInRoot(root, '/shadowlink'), path.join(root, 'etc/shadow'));
    assert.throws(
      () => openInRoot(root, '/shadowlink', constants.O_RDONLY),
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
    );
  });
});

test('a symlinked directory pointing out of the root stays inside', () => {
  withRoot((root) => {
    symlinkSync('/etc', path.join(root, 'usr/etclink'));
    symlinkSync('../../../../../../../../etc', path.join(root, 'usr/lib/up'));
    assert.is(resolveInRoot(root, 'usr/etclink/passwd'), path.join(root, 'etc/passwd'));
    assert.is(resolveInRoot(root, '/usr/lib/up/passwd'), path.join(root, 'etc/passwd'));
    const fd = openInRoot(root, 'usr/lib/up/passwd', constants.O_RDONLY);
    try {
      const buf = Buffer.alloc(64);
      const n = readSync(fd, buf);
      assert.is(buf.subarray(0, n).toString(), 'root:x:0:0::/root:/bin/sh\n');
    } finally {
      closeSync(fd);
    }
  });
});

test('.. stops at the root', () => {
  withRoot((root) => {
    assert.is(resolveInRoot(root, '../../../etc/passwd'), path.join(root, 'etc/passwd'));
    assert.is(resolveInRoot(root, '/..'), root);
    assert.is(resolveInRoot(root, '/'), root);
    assert.is(resolveInRoot(root, ''), root);
  });
});

test('a missing last component resolves its parent; a missing middle throws ENOENT', () => {
  withRoot((root) => {
    symlinkSync('/usr', path.join(root, 'usrlink'));
    assert.is(resolveInRoot(root, 'usrlink/newfile'), path.join(root, 'usr/newfile'));
    assert.throws(
      () => resolveInRoot(root, 'nope/newfile'),
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.message.includes('nope'),
    );
  });
});

test('a dangling symlink as last component is followed inside the root', () => {
  withRoot((root) => {
    symlinkSync('/etc/created-later', path.join(root, 'dangling'));
    assert.is(resolveInRoot(root, 'dangling'), path.join(root, 'etc/created-later'));
    symlinkSync('loop2', path.join(root, 'loop1'));
    symlinkSync('loop1', path.join(root, 'loop2'));
    assert.throws(
      () => resolveInRoot(root, 'loop1'),
      (e: NodeJS.ErrnoException) => e.code === 'ELOOP',
    );
  });
});

test('openInRoot creates files inside the root with the mode asked', () => {
  withRoot((root) => {
    symlinkSync('/etc/evil', path.join(root, 'evil'));
    const fd = openInRoot(root, 'evil', constants.O_WRONLY | constants.O_CREAT, 0o600);
    closeSync(fd);
    const st = require('node:fs').statSync(path.join(root, 'etc/evil'));
    assert.is(st.mode & 0o777, 0o600 & ~process.umask());
    assert.not.ok(require('node:fs').existsSync('/etc/evil'));
  });
});

test.run();
