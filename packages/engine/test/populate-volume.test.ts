import { execFileSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { getXattr, setXattr } from '@berth/native';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { emptyDirectory, populateVolume } from '../src/volumes/populate-volume.js';

/** A scratch directory with an image root (`rootfs`) and an empty volume (`volume`) in it. */
function withDirs(run: (d: { dir: string; rootfs: string; volume: string }) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync('/tmp/berth-unit-engine-populate-');
    const rootfs = path.join(dir, 'rootfs');
    const volume = path.join(dir, 'volume', '_data');
    mkdirSync(rootfs);
    mkdirSync(volume, { recursive: true });
    try {
      await run({ dir, rootfs, volume });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** security.capability's value for cap_net_bind_service (VFS_CAP_REVISION_2, effective). */
const netBindService = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

test(
  'keeps owners, modes (setuid after chown), times, xattrs (security.capability, user.*), symlinks as symlinks, hard links, devices and fifos; skips sockets',
  withDirs(async ({ rootfs, volume }) => {
    const app = path.join(rootfs, 'srv', 'app');
    mkdirSync(path.join(app, 'sub'), { recursive: true });
    writeFileSync(path.join(app, 'sub', 'data'), 'payload\n');
    chownSync(path.join(app, 'sub', 'data'), 1234, 5678);
    execFileSync('chmod', ['4750', path.join(app, 'sub', 'data')]);
    utimesSync(path.join(app, 'sub', 'data'), new Date('2001-02-03T04:05:06Z'), new Date('2002-03-04T05:06:07Z'));
    writeFileSync(path.join(app, 'ping'), 'binary');
    chownSync(path.join(app, 'ping'), 10, 20);
    setXattr(path.join(app, 'ping'), 'security.capability', netBindService);
    setXattr(path.join(app, 'ping'), 'user.origin', Buffer.from('image'));
    execFileSync('ln', [path.join(app, 'ping'), path.join(app, 'sub', 'ping-again')]);
    symlinkSync('sub/data', path.join(app, 'rel-link'));
    symlinkSync('/etc/passwd', path.join(app, 'abs-link'));
    execFileSync('mknod', ['-m', '0620', path.join(app, 'null'), 'c', '1', '3']);
    execFileSync('mkfifo', ['-m', '0640', path.join(app, 'fifo')]);
    const server = net.createServer().listen(path.join(app, 'sock'));
    await new Promise((r) => server.once('listening', r));
    try {
      chownSync(app, 33, 33);
      execFileSync('chmod', ['1751', app]);
      utimesSync(path.join(app, 'sub'), new Date('2010-01-01T00:00:00Z'), new Date('2011-01-01T00:00:00Z'));

      let begun = 0;
      const copied = await populateVolume(rootfs, '/srv/app', volume, async () => {
        begun++;
      });
      assert.is(begun, 1);
      assert.is(copied, 8, 'sub, data, ping, ping-again, rel-link, abs-link, null, fifo (and not sock)');
      assert.equal(readdirSync(volume).sort(), ['abs-link', 'fifo', 'null', 'ping', 'rel-link', 'sub'].sort());

      const data = statSync(path.join(volume, 'sub', 'data'));
      assert.is(readFileSync(path.join(volume, 'sub', 'data'), 'utf8'), 'payload\n');
      assert.is(data.uid, 1234);
      assert.is(data.gid, 5678);
      assert.is((data.mode & 0o7777).toString(8), '4750', 'setuid kept: chmod after chown');
      assert.is(data.mtime.toISOString(), '2002-03-04T05:06:07.000Z');
      assert.is(data.atime.toISOString(), '2001-02-03T04:05:06.000Z');
      assert.is(
        statSync(path.join(volume, 'sub')).mtime.toISOString(),
        '2011-01-01T00:00:00.000Z',
        'directory times set after its content',
      );

      const ping = statSync(path.join(volume, 'ping'));
      assert.is(`${ping.uid}:${ping.gid}`, '10:20');
      assert.is(
        getXattr(path.join(volume, 'ping'), 'security.capability'),
        netBindService.toString('latin1'),
        'capability kept after chown',
      );
      assert.is(getXattr(path.join(volume, 'ping'), 'user.origin'), 'image');
      assert.is(statSync(path.join(volume, 'sub', 'ping-again')).ino, ping.ino, 'a hard link stays a hard link');
      assert.is(ping.nlink, 2);

      assert.is(readlinkSync(path.join(volume, 'rel-link')), 'sub/data');
      assert.is(readlinkSync(path.join(volume, 'abs-link')), '/etc/passwd', 'copied as a symlink, not followed');
      const nul = lstatSync(path.join(volume, 'null'));
      assert.ok(nul.isCharacterDevice());
      assert.is(nul.rdev, statSync('/dev/null').rdev);
      assert.is((nul.mode & 0o7777).toString(8), '620');
      const fifo = lstatSync(path.join(volume, 'fifo'));
      assert.ok(fifo.isFIFO());
      assert.is((fifo.mode & 0o7777).toString(8), '640');

      const root = statSync(volume);
      assert.is(`${root.uid}:${root.gid}`, '33:33', "the volume's root takes the image directory's owner");
      assert.is((root.mode & 0o7777).toString(8), '1751');
    } finally {
      server.close();
    }
  }),
);

test(
  'a hostile image: a mount point that is a symlink to /etc, ".." chains and absolute links inside: nothing outside the image is read, nothing outside the volume written',
  withDirs(async ({ dir, rootfs, volume }) => {
    // Host files the image points at: none may be copied, none may change.
    const outside = path.join(dir, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'secret'), 'host only');
    // The image: /data -> /etc (the image's own /etc), which holds links out of everything.
    mkdirSync(path.join(rootfs, 'etc', 'deep'), { recursive: true });
    writeFileSync(path.join(rootfs, 'etc', 'hostname'), 'image');
    symlinkSync('/etc', path.join(rootfs, 'data'));
    symlinkSync(outside, path.join(rootfs, 'etc', 'abs-out'));
    symlinkSync('../../../../../../../../', path.join(rootfs, 'etc', 'deep', 'dotdot'));
    symlinkSync(`../../../../../../..${outside}/secret`, path.join(rootfs, 'etc', 'dotdot-file'));
    // And a link in the volume's own parent that a careless copy could write through.
    const before = readdirSync(path.dirname(volume));

    const copied = await populateVolume(rootfs, '/data', volume);
    assert.is(copied, 5);
    assert.equal(readdirSync(volume).sort(), ['abs-out', 'deep', 'dotdot-file', 'hostname']);
    assert.is(readFileSync(path.join(volume, 'hostname'), 'utf8'), 'image', "the image's /etc, resolved inside the image");
    assert.ok(lstatSync(path.join(volume, 'abs-out')).isSymbolicLink());
    assert.ok(lstatSync(path.join(volume, 'deep', 'dotdot')).isSymbolicLink());
    assert.ok(lstatSync(path.join(volume, 'dotdot-file')).isSymbolicLink());
    assert.equal(readdirSync(outside), ['secret'], 'nothing written outside');
    assert.equal(readdirSync(path.dirname(volume)), before);

    // A mount point reached through ".." past the root stays inside the image.
    const other = path.join(dir, 'other', '_data');
    mkdirSync(other, { recursive: true });
    assert.is(await populateVolume(rootfs, '/../../../../etc/deep', other), 1);
    assert.equal(readdirSync(other), ['dotdot']);

    // A mount point whose link leads to a host path the image does not have: nothing to copy.
    symlinkSync(outside, path.join(rootfs, 'out'));
    const third = path.join(dir, 'third', '_data');
    mkdirSync(third, { recursive: true });
    assert.is(await populateVolume(rootfs, '/out', third), 0);
    assert.equal(readdirSync(third), []);
  }),
);

test(
  "Docker's rule: a volume with content is not filled; an image without a directory there gives nothing; an emptied volume is filled again at the next create",
  withDirs(async ({ rootfs, volume }) => {
    mkdirSync(path.join(rootfs, 'app'));
    writeFileSync(path.join(rootfs, 'app', 'seed'), 'seed');
    writeFileSync(path.join(rootfs, 'file'), 'not a directory');
    let begun = 0;
    const begin = async () => {
      begun++;
    };
    writeFileSync(path.join(volume, 'mine'), 'x');
    assert.is(await populateVolume(rootfs, '/app', volume, begin), 0);
    assert.equal(readdirSync(volume), ['mine']);
    rmSync(path.join(volume, 'mine'));
    assert.is(await populateVolume(rootfs, '/nothing', volume, begin), 0);
    assert.is(await populateVolume(rootfs, '/file', volume, begin), 0);
    assert.is(begun, 0, 'no copy, no mark');
    assert.is(await populateVolume(rootfs, '/app', volume, begin), 1);
    await emptyDirectory(volume);
    assert.is(await populateVolume(rootfs, '/app', volume, begin), 1);
    assert.equal(readdirSync(volume), ['seed']);
    assert.is(begun, 2);
  }),
);

test(
  'a copy that fails leaves the volume empty and names the call and the path',
  withDirs(async ({ rootfs, volume }) => {
    mkdirSync(path.join(rootfs, 'app', 'a'), { recursive: true });
    writeFileSync(path.join(rootfs, 'app', 'a', 'one'), '1');
    // A name longer than the target filesystem allows cannot exist; a full disk can: a 1-block tmpfs.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k,nr_inodes=3', 'tmpfs', volume]);
    try {
      for (let i = 0; i < 5; i++) writeFileSync(path.join(rootfs, 'app', 'a', `f${i}`), 'x'.repeat(8192));
      const err = await populateVolume(rootfs, '/app', volume).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e,
      );
      assert.ok(err, 'the copy failed');
      assert.match(String(err!.code), /ENOSPC/);
      assert.match(String(err!.path), /^a(\/|$)/, String(err!.message));
      assert.equal(readdirSync(volume), [], 'what was made is gone');
    } finally {
      execFileSync('umount', [volume]);
    }
    assert.not.ok(existsSync(path.join(volume, 'a')));
  }),
);

test.run();
