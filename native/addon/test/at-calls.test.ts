import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AT,
  chmodAt,
  chownAt,
  linkAt,
  mkdirAt,
  mknodAt,
  O_PATH,
  openAt,
  RESOLVE,
  readDir,
  readlinkAt,
  statAt,
  symlinkAt,
  UTIME,
  unlinkAt,
  utimensAt,
  utimesAt,
} from '../src/index.js';

/** A directory with an outside neighbour, open as O_PATH; both removed after. */
function withDir(fn: (dir: string, fd: number, outside: string) => void): void {
  const base = mkdtempSync('/tmp/berth-unit-at-');
  const dir = path.join(base, 'inside');
  const outside = path.join(base, 'outside');
  mkdirSync(dir);
  mkdirSync(outside);
  const fd = openAt(AT.FDCWD, dir, O_PATH | constants.O_DIRECTORY);
  try {
    fn(dir, fd, outside);
  } finally {
    closeSync(fd);
    rmSync(base, { recursive: true, force: true });
  }
}

const code = (c: string) => (e: NodeJS.ErrnoException) => e.code === c;

test('openAt confines a lookup: BENEATH refuses an absolute or climbing symlink, NO_SYMLINKS any, IN_ROOT keeps it inside', () => {
  withDir((dir, fd, outside) => {
    writeFileSync(path.join(outside, 'secret'), 'host');
    symlinkSync(outside, path.join(dir, 'abs'));
    symlinkSync('../outside', path.join(dir, 'up'));
    mkdirSync(path.join(dir, 'real'));
    symlinkSync('real', path.join(dir, 'rel'));
    assert.throws(() => openAt(fd, 'abs/secret', constants.O_RDONLY, { resolve: RESOLVE.BENEATH }), code('EXDEV'));
    assert.throws(() => openAt(fd, 'up/secret', constants.O_RDONLY, { resolve: RESOLVE.BENEATH }), code('EXDEV'));
    assert.throws(() => openAt(fd, 'rel', O_PATH, { resolve: RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS }), code('ELOOP'));
    closeSync(openAt(fd, 'rel', O_PATH | constants.O_DIRECTORY, { resolve: RESOLVE.BENEATH }));
    // IN_ROOT: the absolute link is taken inside the directory, where there is no such file.
    assert.throws(() => openAt(fd, 'abs/secret', constants.O_RDONLY, { resolve: RESOLVE.IN_ROOT }), code('ENOENT'));
  });
});

test('files made, listed, stat’ed, linked, owned, moded, timed and removed through the descriptor', () => {
  withDir((dir, fd) => {
    mkdirAt(fd, 'sub', 0o700);
    symlinkAt(fd, 'link', '/etc/passwd');
    const file = openAt(fd, 'file', constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, { mode: 0o600 });
    writeSync(file, 'content');
    closeSync(file);
    assert.throws(
      () => openAt(fd, 'link', constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW),
      code('EEXIST'),
    );
    linkAt(fd, 'hard', fd, 'file');
    mknodAt(fd, 'fifo', constants.S_IFIFO | 0o600, 0, 0);
    const listing = openAt(fd, '.', constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      assert.equal(readDir(listing).sort(), ['fifo', 'file', 'hard', 'link', 'sub']);
    } finally {
      closeSync(listing);
    }
    assert.is(readlinkAt(fd, 'link'), '/etc/passwd');
    const st = statAt(fd, 'file', AT.SYMLINK_NOFOLLOW);
    assert.is(st.size, 7);
    assert.is(st.nlink, 2);
    assert.is(typeof st.ino, 'bigint');
    const hard = openAt(fd, 'hard', O_PATH);
    try {
      assert.is(st.ino, fstatSync(hard, { bigint: true }).ino);
    } finally {
      closeSync(hard);
    }
    assert.is(statAt(fd, 'link', AT.SYMLINK_NOFOLLOW).mode & constants.S_IFMT, constants.S_IFLNK);
    chownAt(fd, 'link', 1234, 5678, AT.SYMLINK_NOFOLLOW);
    assert.is(lstatSync(path.join(dir, 'link')).uid, 1234);
    assert.is(lstatSync('/etc/passwd').uid, 0, 'the link, not its target');
    chmodAt(fd, 'fifo', 0o4640, AT.SYMLINK_NOFOLLOW);
    assert.is(lstatSync(path.join(dir, 'fifo')).mode & 0o7777, 0o4640);
    assert.throws(() => chmodAt(fd, 'link', 0o600, AT.SYMLINK_NOFOLLOW), code('EOPNOTSUPP'));
    utimesAt(fd, 'link', new Date(1_000_000), new Date(2_000_500), AT.SYMLINK_NOFOLLOW);
    assert.is(lstatSync(path.join(dir, 'link')).mtimeMs, 2_000_500);
    // To the nanosecond, and UTIME.OMIT leaves a time as it was.
    utimensAt(fd, 'hard', { sec: 1_000_000_000, nsec: 123_456_789 }, { sec: 1_500_000_000, nsec: 987_654_321 }, 0);
    utimensAt(fd, 'hard', { sec: 0, nsec: UTIME.OMIT }, { sec: 1_600_000_000, nsec: 1 }, 0);
    const precise = lstatSync(path.join(dir, 'hard'), { bigint: true });
    assert.equal([precise.atimeNs, precise.mtimeNs], [1_000_000_000_123_456_789n, 1_600_000_000_000_000_001n]);
    assert.is(readFileSync(path.join(dir, 'hard'), 'utf8'), 'content');
    assert.is(readlinkSync(path.join(dir, 'link')), '/etc/passwd');
    unlinkAt(fd, 'sub', AT.REMOVEDIR);
    unlinkAt(fd, 'hard');
    assert.throws(() => statAt(fd, 'sub', AT.SYMLINK_NOFOLLOW), code('ENOENT'));
    assert.throws(
      () => unlinkAt(fd, 'hard'),
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.syscall === 'unlinkat' && e.path === 'hard',
    );
  });
});

test.run();
