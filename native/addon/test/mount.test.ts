import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isMountPoint, MNT_DETACH, MS, mount, mountAll, mountSpec, umount, unmountAll } from '../src/index.js';

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync('/tmp/berth-unit-mount-');
  try {
    fn(dir);
  } finally {
    unmountAll(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('MS constants are the kernel values', () => {
  assert.is(MS.RDONLY, 1);
  assert.is(MS.BIND, 4096);
  assert.is(MS.REC, 16384);
  assert.is(MS.PRIVATE, 1 << 18);
  assert.is(MNT_DETACH, 2);
});

test('mount tmpfs with data, isMountPoint, umount', () => {
  withDir((dir) => {
    assert.not.ok(isMountPoint(dir));
    mount('tmpfs', dir, 'tmpfs', MS.NOSUID | MS.NODEV, 'size=1m,mode=0755');
    assert.ok(isMountPoint(dir));
    const st = statfsSync(dir);
    assert.is(st.blocks * st.bsize, 1024 * 1024);
    writeFileSync(path.join(dir, 'f'), 'x');
    umount(dir);
    assert.not.ok(isMountPoint(dir));
    assert.equal(mountsUnder(dir), []);
  });
});

test('isMountPoint and unmountAll follow a symlink given as the last name, and relative paths', () => {
  withDir((dir) => {
    const target = path.join(dir, 'target');
    mkdirSync(target);
    mount('tmpfs', target, 'tmpfs', 0, 'size=1m');
    symlinkSync(target, path.join(dir, 'link'));
    assert.ok(isMountPoint(path.join(dir, 'link')), 'through the symlink');
    assert.ok(isMountPoint(path.relative(process.cwd(), target)), 'relative');
    assert.not.ok(isMountPoint(path.join(dir, 'missing')));
    assert.not.ok(isMountPoint(dir));
    unmountAll(path.join(dir, 'link'));
    assert.not.ok(isMountPoint(target));
  });
});

test('errors carry the errno name, the syscall and the path', () => {
  withDir((dir) => {
    try {
      umount(dir);
      assert.unreachable('umount of a plain directory must fail');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      assert.instance(e, Error);
      assert.is(e.code, 'EINVAL');
      assert.is(e.syscall, 'umount2');
      assert.ok(e.message.includes(dir), e.message);
      assert.ok(e.message.includes('umount2'), e.message);
    }
    try {
      mount('none', path.join(dir, 'missing'), 'tmpfs', 0);
      assert.unreachable('mount on a missing directory must fail');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      assert.is(e.code, 'ENOENT');
      assert.ok(e.message.includes(`${dir}/missing`), e.message);
      assert.ok(e.message.includes('mount'), e.message);
    }
  });
});

test('mountSpec: a read-only bind is remounted read-only; the source stays writable', () => {
  withDir((dir) => {
    const src = path.join(dir, 'src');
    const dst = path.join(dir, 'dst');
    mkdirSync(src);
    mkdirSync(dst);
    writeFileSync(path.join(src, 'hello'), 'hi');
    mountSpec({ type: 'bind', source: src, options: ['rbind', 'ro', 'nosuid', 'rprivate'] }, dst);
    assert.ok(isMountPoint(dst));
    assert.is(readFileSync(path.join(dst, 'hello'), 'utf8'), 'hi');
    assert.throws(
      () => writeFileSync(path.join(dst, 'new'), 'x'),
      (e: NodeJS.ErrnoException) => e.code === 'EROFS',
    );
    writeFileSync(path.join(src, 'new'), 'y');
    assert.is(readFileSync(path.join(dst, 'new'), 'utf8'), 'y');
    const opts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === dst)!
      .split(' ')[5]!;
    assert.ok(opts.split(',').includes('ro'), opts);
    assert.ok(opts.split(',').includes('nosuid'), opts);
  });
});

test('mountSpec: tmpfs options become data', () => {
  withDir((dir) => {
    mountSpec({ type: 'tmpfs', source: 'tmpfs', options: ['nodev', 'size=2m', 'mode=700'] }, dir);
    const st = statfsSync(dir);
    assert.is(st.blocks * st.bsize, 2 * 1024 * 1024);
  });
});

test('mountAll undoes what it mounted when a later spec fails', () => {
  withDir((dir) => {
    assert.throws(
      () =>
        mountAll(
          [
            { type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
            { type: 'nosuchfs', source: 'x', options: [] },
          ],
          dir,
        ),
      (e: NodeJS.ErrnoException) => e.code === 'ENODEV',
    );
    assert.not.ok(isMountPoint(dir));
    mountAll([{ type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }], dir);
    assert.ok(isMountPoint(dir));
  });
});

test('unmountAll removes nested and stacked mounts, deepest first', () => {
  withDir((dir) => {
    const top = path.join(dir, 'top');
    mkdirSync(top);
    mount('tmpfs', top, 'tmpfs', 0, 'size=1m');
    mount('tmpfs', top, 'tmpfs', 0, 'size=1m'); // stacked
    mkdirSync(path.join(top, 'a/b'), { recursive: true });
    mount('tmpfs', path.join(top, 'a'), 'tmpfs', 0, 'size=1m');
    mkdirSync(path.join(top, 'a/b'));
    mount(dir, path.join(top, 'a/b'), null, MS.BIND);
    assert.is(mountsUnder(top).length, 4);
    unmountAll(top);
    assert.equal(mountsUnder(top), []);
    unmountAll(top); // nothing mounted: no error
    unmountAll(path.join(dir, 'does-not-exist'));
  });
});

test('unmountAll detaches a busy mount', () => {
  withDir((dir) => {
    mount('tmpfs', dir, 'tmpfs', 0, 'size=1m');
    const child = require('node:child_process').spawn('sleep', ['30'], { cwd: dir, stdio: 'ignore' });
    try {
      // Wait until the child has its cwd inside the mount.
      const deadline = Date.now() + 2000;
      while (Date.now() < deadline) {
        try {
          if (require('node:fs').readlinkSync(`/proc/${child.pid}/cwd`) === dir) break;
        } catch {}
      }
      unmountAll(dir);
      assert.equal(mountsUnder(dir), []);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

test.run();
