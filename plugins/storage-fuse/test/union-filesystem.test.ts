import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { MountSpec } from '@berth/core';
import { getXattr, isMountPoint, type MountHelperProcess, mountAll, mountAllAsync, stopMountHelper, unmountAll } from '@berth/native';
import { FUSE_MOUNT_TYPE, helperCommand } from '@berth/storage-fuse';
import { withTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

/**
 * The union filesystem through real FUSE mounts served by the mount helper, each test
 * in a directory of its own under /tmp/berth-unit-storage-fuse-*, unmounted and
 * deleted even when the test fails.
 */
interface Fixture {
  dir: string;
  lower: string;
  lower2: string;
  upper: string;
  work: string;
  mnt: string;
  helpers: MountHelperProcess[];
  mount(options?: string[]): Promise<MountHelperProcess>;
}

function spec(f: Fixture, extra: string[] = []): MountSpec {
  return {
    type: FUSE_MOUNT_TYPE,
    source: 'berth-fuse-test',
    options: [`lowerdir=${f.lower}:${f.lower2}`, `upperdir=${f.upper}`, `workdir=${f.work}`, ...extra],
    helper: helperCommand(),
  };
}

async function withFixture(body: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp('/tmp/berth-unit-storage-fuse-');
  // A caller other than root must reach the mount point.
  await fs.chmod(dir, 0o755);
  const f: Fixture = {
    dir,
    lower: path.join(dir, 'lower'),
    lower2: path.join(dir, 'lower2'),
    upper: path.join(dir, 'upper'),
    work: path.join(dir, 'work'),
    mnt: path.join(dir, 'mnt'),
    helpers: [],
    async mount(options = []) {
      const { helpers } = await mountAllAsync([spec(f, options)], f.mnt, { logPath: path.join(dir, 'helper.log') });
      f.helpers.push(...helpers);
      return helpers[0]!;
    },
  };
  for (const d of [f.lower, f.lower2, f.upper, f.work, f.mnt]) await fs.mkdir(d);
  try {
    await body(f);
  } finally {
    for (const h of f.helpers) await stopMountHelper(h);
    unmountAll(dir);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Whether /proc/self/mountinfo lists a mount on `dir`, read without touching `dir`
 * (a dead FUSE mount answers ENOTCONN to a lookup, so isMountPoint's realpath fails).
 */
function inMountTable(dir: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === dir);
}

/** Resolves once process `pid` is gone (or a zombie: the helper is this process's unreaped child). */
async function exited(pid: number, limitMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  const alive = () => {
    try {
      return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return false;
    }
  };
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return !alive();
}

const fuseTest = (name: string, body: (f: Fixture) => Promise<void>) =>
  test(
    name,
    withTimeout(20_000, () => withFixture(body)),
  );

/** Run `script` with sh as uid 1234, gid 5678 and no supplementary groups. */
function asUser(script: string): void {
  execFileSync('setpriv', ['--reuid=1234', '--regid=5678', '--clear-groups', 'sh', '-c', script], { stdio: 'pipe' });
}

fuseTest('what a non-root caller creates is owned by its uid and gid, in the view and in the upper', async (f) => {
  await fs.mkdir(path.join(f.lower, 'shared'), { mode: 0o777 });
  await fs.chmod(path.join(f.lower, 'shared'), 0o777);
  await fs.mkdir(path.join(f.lower, 'setgid'));
  await fs.chown(path.join(f.lower, 'setgid'), 0, 4242);
  await fs.chmod(path.join(f.lower, 'setgid'), 0o2777);
  await f.mount();
  const m = (p: string) => path.join(f.mnt, p);
  asUser(`cd ${m('shared')} && echo x > file && mkdir dir && ln -s file link && mkfifo fifo && echo y > ${m('setgid')}/inherits`);
  for (const name of ['file', 'dir', 'link', 'fifo']) {
    for (const where of [m(`shared/${name}`), path.join(f.upper, 'shared', name)]) {
      const st = await fs.lstat(where);
      assert.equal([st.uid, st.gid], [1234, 5678], `${where} is owned by ${st.uid}:${st.gid}`);
    }
  }
  const inherited = await fs.stat(m('setgid/inherits'));
  assert.equal([inherited.uid, inherited.gid], [1234, 4242], 'a set-gid directory passes its gid on');
  // The caller's own permissions apply (default_permissions): a root-only directory stays closed.
  await fs.mkdir(m('closed'), { mode: 0o700 });
  assert.throws(() => asUser(`echo z > ${m('closed')}/nope`));
});

fuseTest("whiteouts and opaque directories are overlayfs's: kernel overlay reads the same upper", async (f) => {
  await fs.writeFile(path.join(f.lower, 'gone'), 'g');
  await fs.mkdir(path.join(f.lower, 'dir'));
  await fs.writeFile(path.join(f.lower, 'dir/old'), 'o');
  await fs.writeFile(path.join(f.lower2, 'deep'), 'from the lowest layer');
  await f.mount();
  await fs.rm(path.join(f.mnt, 'gone'));
  await fs.rm(path.join(f.mnt, 'dir'), { recursive: true });
  await fs.mkdir(path.join(f.mnt, 'dir'));
  await fs.writeFile(path.join(f.mnt, 'dir/new'), 'n');
  await fs.writeFile(path.join(f.mnt, 'deep'), 'changed');
  for (const h of f.helpers.splice(0)) await stopMountHelper(h);
  const whiteout = await fs.lstat(path.join(f.upper, 'gone'));
  assert.ok(whiteout.isCharacterDevice() && whiteout.rdev === 0, 'a 0:0 character device');
  assert.is(getXattr(path.join(f.upper, 'dir'), 'trusted.overlay.opaque'), 'y');
  // The same upper as the top lower layer of a kernel overlay (read-only: no upperdir).
  const kernel = path.join(f.dir, 'kernel');
  await fs.mkdir(kernel);
  mountAll([{ type: 'overlay', source: 'overlay', options: [`lowerdir=${f.upper}:${f.lower}:${f.lower2}`] }], kernel);
  try {
    assert.equal((await fs.readdir(kernel)).sort(), ['deep', 'dir']);
    assert.equal(await fs.readdir(path.join(kernel, 'dir')), ['new']);
    assert.is(await fs.readFile(path.join(kernel, 'deep'), 'utf8'), 'changed');
  } finally {
    unmountAll(kernel);
  }
});

fuseTest('a helper killed with SIGKILL leaves no dead mount behind', async (f) => {
  await fs.writeFile(path.join(f.lower, 'a'), 'a');
  const helper = await f.mount();
  assert.ok(isMountPoint(f.mnt));
  process.kill(helper.pid, 'SIGKILL');
  const deadline = Date.now() + 5_000;
  while (inMountTable(f.mnt) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.not.ok(inMountTable(f.mnt), 'still in the mount table 5 s after SIGKILL');
  // Not "Transport endpoint is not connected": the mount point is the empty directory again.
  assert.equal(await fs.readdir(f.mnt), []);
});

fuseTest('SIGTERM unmounts and ends the helper; so does an unmount by someone else', async (f) => {
  const first = await f.mount();
  process.kill(first.pid, 'SIGTERM');
  assert.ok(await exited(first.pid), 'the helper exited');
  assert.not.ok(inMountTable(f.mnt));
  const second = await f.mount();
  execFileSync('umount', [f.mnt]);
  assert.ok(await exited(second.pid), 'the helper exited after an unmount by someone else');
  assert.not.ok(inMountTable(f.mnt));
});

fuseTest('copy-up keeps modes, owners, xattrs and nanosecond times; O_TRUNC copies nothing; utimensat keeps precision', async (f) => {
  const lowerFile = path.join(f.lower, 'f');
  await fs.writeFile(lowerFile, 'x'.repeat(1 << 20));
  await fs.chown(lowerFile, 321, 654);
  await fs.chmod(lowerFile, 0o4751);
  execFileSync('touch', ['-d', '2001-02-03 04:05:06.123456789', lowerFile]);
  await fs.writeFile(path.join(f.lower, 'big'), Buffer.alloc(4 << 20, 1));
  await f.mount();
  await fs.chmod(path.join(f.mnt, 'f'), 0o4751); // a metadata change: a copy-up
  const up = statSync(path.join(f.upper, 'f'), { bigint: true });
  assert.equal([up.uid, up.gid, up.mode & 0o7777n], [321n, 654n, 0o4751n]);
  assert.is(up.mtimeNs, 981173106123456789n, 'the copy-up keeps mtime to the nanosecond');
  // O_TRUNC of a lower file: the upper copy starts empty (no data copied).
  await fs.writeFile(path.join(f.mnt, 'big'), 'short');
  assert.is(readFileSync(path.join(f.upper, 'big'), 'utf8'), 'short');
  assert.is((await fs.stat(path.join(f.lower, 'big'))).size, 4 << 20, 'the lower file is untouched');
  // utimensat with nanoseconds, then one time alone (the other UTIME_OMIT: libfuse 2 alone
  // would drop such a call, the patch completes it), then UTIME_NOW for mtime alone.
  execFileSync('touch', ['-d', '1999-12-31 23:59:59.987654321', path.join(f.mnt, 'f')]);
  execFileSync('touch', ['-m', '-d', '2020-01-01 00:00:00.000000001', path.join(f.mnt, 'f')]);
  const st = statSync(path.join(f.mnt, 'f'), { bigint: true });
  assert.equal([st.atimeNs, st.mtimeNs], [946684799987654321n, 1577836800000000001n], 'atime kept, mtime to the nanosecond');
  const before = BigInt(Date.now() - 1000) * 1_000_000n;
  execFileSync('touch', ['-m', path.join(f.mnt, 'f')]);
  const now = statSync(path.join(f.mnt, 'f'), { bigint: true });
  assert.ok(now.mtimeNs > before, 'UTIME_NOW sets the current time');
  assert.is(now.atimeNs, 946684799987654321n, 'and leaves atime alone');
});

fuseTest('rename of a lower directory, hard links, symlinks, devices and mmap', async (f) => {
  await fs.mkdir(path.join(f.lower, 'd/sub'), { recursive: true });
  await fs.writeFile(path.join(f.lower, 'd/sub/file'), 'inside');
  await fs.writeFile(path.join(f.lower2, 'mapped'), Buffer.alloc(8192, 0x61));
  await f.mount();
  const m = (p: string) => path.join(f.mnt, p);
  await fs.rename(m('d'), m('e'));
  assert.equal(await fs.readdir(f.mnt), ['e', 'mapped'].filter((n) => n !== 'd').sort());
  assert.is(await fs.readFile(m('e/sub/file'), 'utf8'), 'inside');
  assert.ok((await fs.lstat(path.join(f.upper, 'd'))).isCharacterDevice(), 'the old name is a whiteout');
  await fs.link(m('e/sub/file'), m('hard'));
  await fs.appendFile(m('hard'), '+');
  assert.is(await fs.readFile(m('e/sub/file'), 'utf8'), 'inside+');
  assert.is((await fs.stat(m('hard'))).ino, (await fs.stat(m('e/sub/file'))).ino);
  await fs.symlink('e/sub/file', m('sym'));
  assert.is(await fs.readlink(m('sym')), 'e/sub/file');
  execFileSync('mknod', [m('null'), 'c', '1', '3']);
  const dev = await fs.lstat(m('null'));
  assert.ok(dev.isCharacterDevice());
  assert.is(dev.rdev, (1 << 8) | 3);
  // Mounted without nosuid and nodev, as overlay is: the device works, set-uid bits count.
  await fs.writeFile(m('null'), 'discarded');
  const options = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((line) => line.split(' ')[4] === f.mnt)!
    .split(' ')[5]!
    .split(',');
  assert.not.ok(options.includes('nosuid') || options.includes('nodev'), options.join(','));
  // A shared writable mapping of a lower file: written through mmap, read back by read(2).
  execFileSync('python3', [
    '-c',
    `import mmap,os\nfd=os.open(${JSON.stringify(m('mapped'))},os.O_RDWR)\nm=mmap.mmap(fd,8192)\nm[0:5]=b'hello'\nm.flush()\nm.close()\nos.close(fd)`,
  ]);
  assert.is((await fs.readFile(m('mapped'))).subarray(0, 6).toString(), 'helloa');
  assert.is((await fs.readFile(path.join(f.lower2, 'mapped'))).subarray(0, 5).toString(), 'aaaaa', 'the lower file is untouched');
});

fuseTest('attributes the helper keeps in C are never stale after a change through the mount', async (f) => {
  await fs.mkdir(path.join(f.lower, 'dir/sub'), { recursive: true });
  await fs.writeFile(path.join(f.lower, 'dir/file'), 'lower');
  await f.mount();
  const m = (p: string) => path.join(f.mnt, p);
  // Read once so that every attribute is kept, then change each through the mount.
  for (const p of ['dir', 'dir/sub', 'dir/file', '']) await fs.stat(m(p));
  const served = await fs.stat(m('dir/sub'), { bigint: true });
  assert.is(served.ino, (await fs.stat(path.join(f.lower, 'dir/sub'), { bigint: true })).ino, "the layer's inode number, all 64 bits");
  const before = await fs.stat(m('dir'));
  await fs.writeFile(m('dir/new'), 'n');
  const after = await fs.stat(m('dir'));
  assert.ok(after.mtimeMs >= before.mtimeMs && after.ino !== before.ino, 'the copied-up directory is the upper one');
  await fs.chmod(m('dir/sub'), 0o700);
  assert.is((await fs.stat(m('dir/sub'))).mode & 0o777, 0o700);
  await fs.appendFile(m('dir/file'), '+upper');
  assert.is((await fs.stat(m('dir/file'))).size, 'lower+upper'.length);
  await fs.rename(m('dir'), m('moved'));
  assert.is((await fs.stat(m('moved/sub'))).mode & 0o777, 0o700);
  await rejectsWithCode(fs.stat(m('dir/sub')), 'ENOENT');
  await fs.rm(m('moved/sub'), { recursive: true });
  await rejectsWithCode(fs.stat(m('moved/sub')), 'ENOENT');
  assert.is((await fs.stat(m(''))).nlink >= 2, true);
});

/** `promise` rejects with `code`. */
async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e,
  );
  assert.is(err?.code, code);
}

fuseTest('a read-only view refuses writes with EROFS', async (f) => {
  await fs.writeFile(path.join(f.lower, 'a'), 'a');
  const { helpers } = await mountAllAsync(
    [{ type: FUSE_MOUNT_TYPE, source: 'berth-fuse-test', options: [`lowerdir=${f.lower}:${f.lower2}`, 'ro'], helper: helperCommand() }],
    f.mnt,
    { logPath: path.join(f.dir, 'helper.log') },
  );
  f.helpers.push(...helpers);
  assert.is(await fs.readFile(path.join(f.mnt, 'a'), 'utf8'), 'a');
  for (const write of [() => fs.writeFile(path.join(f.mnt, 'b'), 'b'), () => fs.rm(path.join(f.mnt, 'a'))]) {
    const err = await write().then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    assert.is(err?.code, 'EROFS');
  }
  assert.equal(await fs.readdir(f.lower), ['a']);
});

test.run();
