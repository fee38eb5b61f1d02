import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isBerthError } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseGroup, parsePasswd, readFileInRoot, resolveInRoot, resolveUser, resolveUserFromEntries } from '../../src/oci/index.js';

const passwd = parsePasswd(
  [
    '# comment',
    'root:x:0:0:root:/root:/bin/sh',
    'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
    'broken line',
    'app:x:1000:1000::/home/app:/bin/sh',
    'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  ].join('\n'),
);
const groups = parseGroup(
  ['root:x:0:', 'wheel:x:10:root,app', 'staff:x:50:app', 'app:x:1000:', 'bad:x:zz:', 'nogroup:x:65534:'].join('\n'),
);

test('parsePasswd and parseGroup skip comments and malformed lines', () => {
  assert.equal(
    passwd.map((p) => p.name),
    ['root', 'daemon', 'app', 'nobody'],
  );
  assert.equal(passwd[2], { name: 'app', uid: 1000, gid: 1000, home: '/home/app', shell: '/bin/sh' });
  assert.equal(
    groups.map((g) => g.name),
    ['root', 'wheel', 'staff', 'app', 'nogroup'],
  );
  assert.equal(groups[1], { name: 'wheel', gid: 10, members: ['root', 'app'] });
});

const resolve = (spec: string, groupAdd: string[] = []) => resolveUserFromEntries(spec, passwd, groups, groupAdd);

test("empty user is root, with root's passwd entry and groups", () => {
  assert.equal(resolve(''), { uid: 0, gid: 0, additionalGids: [10], home: '/root', name: 'root' });
});

test('a name or a uid found in passwd takes its gid, home and member groups', () => {
  assert.equal(resolve('app'), { uid: 1000, gid: 1000, additionalGids: [10, 50], home: '/home/app', name: 'app' });
  assert.equal(resolve('1000'), resolve('app'));
  assert.equal(resolve('nobody'), { uid: 65534, gid: 65534, additionalGids: [], home: '/nonexistent', name: 'nobody' });
});

test('a numeric uid missing from passwd is fine: gid 0, home /', () => {
  assert.equal(resolve('4242'), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
});

test('user:group sets the primary group and drops /etc/group memberships', () => {
  assert.equal(resolve('app:staff'), { uid: 1000, gid: 50, additionalGids: [], home: '/home/app', name: 'app' });
  assert.equal(resolve('4242:77'), { uid: 4242, gid: 77, additionalGids: [], home: '/' });
  assert.equal(resolve('app:0').gid, 0);
});

test('GroupAdd adds names and numbers', () => {
  assert.equal(resolve('nobody', ['staff', '77', 'staff']).additionalGids, [50, 77]);
  assert.equal(resolve('app:app', ['wheel']).additionalGids, [10]);
});

test("unknown names fail with Docker's messages", () => {
  const fails = (fn: () => unknown, message: string) =>
    assert.throws(fn, (e: Error) => isBerthError(e, 'InvalidArgument') && e.message === message);
  fails(() => resolve('nobody2'), 'unable to find user nobody2: no matching entries in passwd file');
  fails(() => resolve('app:nogroup2'), 'unable to find group nogroup2: no matching entries in group file');
  fails(() => resolve('app', ['ghosts']), 'unable to find group ghosts: no matching entries in group file');
  fails(() => resolve('4294967296'), 'invalid user 4294967296: uids and gids must be in range 0-2147483647');
  fails(() => resolveUserFromEntries('root', undefined, undefined), 'unable to find user root: no matching entries in passwd file');
  assert.equal(resolveUserFromEntries('', undefined, undefined), { uid: 0, gid: 0, additionalGids: [], home: '/' });
});

function tempRoot(): { dir: string; root: string; done: () => void } {
  const dir = mkdtempSync('/tmp/berth-unit-spec-user-');
  const root = path.join(dir, 'rootfs');
  mkdirSync(path.join(root, 'etc'), { recursive: true });
  return { dir, root, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('resolveInRoot: symlinks are followed inside the root, never out of it', () => {
  const t = tempRoot();
  try {
    mkdirSync(path.join(t.root, 'usr/lib'), { recursive: true });
    mkdirSync(path.join(t.root, 'data'));
    symlinkSync('/usr/lib', path.join(t.root, 'lib'));
    symlinkSync('../../../../../../..', path.join(t.root, 'up'));
    symlinkSync('/', path.join(t.root, 'slash'));
    symlinkSync('loop2', path.join(t.root, 'loop1'));
    symlinkSync('loop1', path.join(t.root, 'loop2'));
    assert.is(resolveInRoot(t.root, '/lib/x'), path.join(t.root, 'usr/lib/x'));
    assert.is(resolveInRoot(t.root, 'lib/../data'), path.join(t.root, 'usr/data'));
    assert.is(resolveInRoot(t.root, '/../../../etc/passwd'), path.join(t.root, 'etc/passwd'));
    assert.is(resolveInRoot(t.root, '/up/etc/passwd'), path.join(t.root, 'etc/passwd'));
    assert.is(resolveInRoot(t.root, '/slash/slash/etc'), path.join(t.root, 'etc'));
    assert.is(resolveInRoot(t.root, '/missing/a/b'), path.join(t.root, 'missing/a/b'));
    assert.throws(
      () => resolveInRoot(t.root, '/loop1'),
      (e: NodeJS.ErrnoException) => e.code === 'ELOOP',
    );
  } finally {
    t.done();
  }
});

test('resolveUser: a symlinked /etc/passwd pointing at a host file is read inside the root', async () => {
  const t = tempRoot();
  try {
    // A file that exists on the host with a user only the host has.
    const hostFile = path.join(t.dir, 'host-passwd');
    writeFileSync(hostFile, 'hostonly:x:777:777::/:/bin/sh\n');
    symlinkSync(hostFile, path.join(t.root, 'etc/passwd'));
    let message = '';
    try {
      await resolveUser(t.root, 'hostonly');
    } catch (e) {
      message = (e as Error).message;
    }
    assert.is(message, 'unable to find user hostonly: no matching entries in passwd file');
    // The same absolute target, recreated inside the root, is what counts.
    mkdirSync(path.join(t.root, path.dirname(hostFile)), { recursive: true });
    writeFileSync(path.join(t.root, hostFile), 'inroot:x:4343:4344::/home/in:/bin/sh\n');
    writeFileSync(path.join(t.root, 'etc/group'), 'extra:x:99:inroot\n');
    assert.equal(await resolveUser(t.root, 'inroot'), { uid: 4343, gid: 4344, additionalGids: [99], home: '/home/in', name: 'inroot' });
  } finally {
    t.done();
  }
});

test('readFileInRoot: missing is undefined; a FIFO or directory is an error, never a hang', async () => {
  const t = tempRoot();
  try {
    assert.is(await readFileInRoot(t.root, '/etc/passwd'), undefined);
    execFileSync('mkfifo', [path.join(t.root, 'etc/passwd')]);
    let message = '';
    try {
      await readFileInRoot(t.root, '/etc/passwd');
    } catch (e) {
      message = (e as Error).message;
    }
    assert.match(message, /not a regular file/);
    mkdirSync(path.join(t.root, 'etc/group'));
    message = '';
    try {
      await readFileInRoot(t.root, '/etc/group');
    } catch (e) {
      message = (e as Error).message;
    }
    assert.match(message, /not a regular file|EISDIR/);
  } finally {
    t.done();
  }
});

test.run();
