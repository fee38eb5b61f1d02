import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type TarWriteEntry, writeTar } from '@berth/image';
import * as assert from 'uvu/assert';
import { daemonSuite, mountsUnder, storageDriversOfHost } from './harness';

/** A tar as the string `docker cp -` reads on stdin (ASCII only, so no encoding changes a byte). */
async function tarText(entries: TarWriteEntry[]): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of writeTar(entries)) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  assert.ok(
    bytes.every((b) => b < 0x80),
    'the test tar is ASCII',
  );
  return bytes.toString('latin1');
}

/** docker diff, export, commit and cp through the real docker CLI, on one storage driver. */
function filesystemSuite(driver: string): void {
  const test = daemonSuite(`container filesystem (${driver})`, driver);
  const script = 'echo hi > /tmp/new; rm /etc/group; mkdir /work; ln -s /etc/shadow /work/shadow; ln -s / /work/root';

  test('docker diff shows C, A and D of a stopped container', async ({ daemon }) => {
    const r = await daemon.docker(['run', '--name', 'fsx', 'busybox', 'sh', '-c', script]);
    assert.is(r.code, 0, r.stderr);
    const diff = await daemon.docker(['diff', 'fsx']);
    assert.is(diff.code, 0, diff.stderr);
    const lines = diff.stdout.split('\n');
    for (const want of ['C /etc', 'D /etc/group', 'C /tmp', 'A /tmp/new', 'A /work', 'A /work/shadow']) {
      assert.ok(lines.includes(want), `${want} in:\n${diff.stdout}`);
    }
    assert.not.ok(lines.includes('C /bin'), diff.stdout);
    const missing = await daemon.docker(['diff', 'nope']);
    assert.is(missing.code, 1);
  });

  test('docker export writes the merged root and leaves nothing mounted', async ({ daemon }) => {
    const file = path.join(daemon.dir, 'export.tar');
    const r = await daemon.docker(['export', '-o', file, 'fsx']);
    assert.is(r.code, 0, r.stderr);
    const names = execFileSync('tar', ['tf', file], { encoding: 'utf8' }).split('\n');
    assert.ok(names.includes('tmp/new') && names.includes('bin/busybox') && names.includes('work/shadow'), names.join(' '));
    assert.not.ok(names.includes('etc/group'), 'a deleted file is not exported');
    assert.is(execFileSync('tar', ['xOf', file, 'tmp/new'], { encoding: 'utf8' }), 'hi\n');
    assert.equal(
      mountsUnder(daemon.dir).filter((m) => m.includes('rootfs')),
      [],
      'the stopped container was unmounted after the export',
    );
  });

  test('docker commit makes an image that runs, with -c, -m and -a', async ({ daemon }) => {
    const r = await daemon.docker(['commit', '-m', 'made by e2e', '-a', 'tester', '-c', 'CMD ["cat", "/tmp/new"]', 'fsx', 'fsx-img:v1']);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const run = await daemon.docker(['run', '--rm', 'fsx-img:v1']);
    assert.is(run.code, 0, run.stderr);
    assert.is(run.stdout, 'hi\n');
    const gone = await daemon.docker(['run', '--rm', 'fsx-img:v1', 'ls', '/etc/group']);
    assert.not.equal(gone.code, 0, 'the deletion is in the layer');
    const inspect = await daemon.docker(['inspect', '-f', '{{.Comment}}|{{.Author}}|{{len .RootFS.Layers}}', 'fsx-img:v1']);
    assert.is(inspect.stdout, 'made by e2e|tester|2\n', inspect.stderr);
  });

  test('docker cp out of a stopped container: a file, a directory, a symlink as itself; -L never reaches the host', async ({ daemon }) => {
    const out = path.join(daemon.dir, 'cp-out');
    mkdirSync(out);
    let r = await daemon.docker(['cp', 'fsx:/tmp/new', path.join(out, 'new.txt')]);
    assert.is(r.code, 0, r.stderr);
    assert.is(readFileSync(path.join(out, 'new.txt'), 'utf8'), 'hi\n');
    r = await daemon.docker(['cp', 'fsx:/work', path.join(out, 'work')]);
    assert.is(r.code, 0, r.stderr);
    assert.is(readlinkSync(path.join(out, 'work/shadow')), '/etc/shadow');
    r = await daemon.docker(['cp', 'fsx:/work/shadow', path.join(out, 'shadow')]);
    assert.is(r.code, 0, r.stderr);
    assert.ok(lstatSync(path.join(out, 'shadow')).isSymbolicLink(), 'the symlink itself, not what it points at');
    r = await daemon.docker(['cp', '-L', 'fsx:/work/shadow', path.join(out, 'followed')]);
    assert.not.equal(r.code, 0, 'busybox has no /etc/shadow: followed inside the container there is nothing');
    assert.not.ok(existsSync(path.join(out, 'followed')), 'the host /etc/shadow was not copied');
    r = await daemon.docker(['cp', 'fsx:/work/root/etc/passwd', path.join(out, 'passwd')]);
    assert.is(r.code, 0, r.stderr);
    assert.is(
      readFileSync(path.join(out, 'passwd'), 'utf8'),
      execFileSync('tar', ['xOf', path.join(daemon.dir, 'export.tar'), 'etc/passwd'], { encoding: 'utf8' }),
    );
    r = await daemon.docker(['cp', 'fsx:/nope', path.join(out, 'nope')]);
    assert.not.equal(r.code, 0);
    assert.match(r.stderr, /Could not find the file \/nope in container fsx/);
  });

  test('docker cp into running and stopped containers; .. and escaping symlinks are refused', async ({ daemon }) => {
    const local = path.join(daemon.dir, 'cp-in');
    mkdirSync(path.join(local, 'dir'), { recursive: true });
    writeFileSync(path.join(local, 'in.txt'), 'copied in\n');
    writeFileSync(path.join(local, 'dir/a.txt'), 'A\n');
    const run = await daemon.docker(['run', '-d', '--name', 'fsr', 'busybox', 'sleep', '100']);
    assert.is(run.code, 0, run.stderr);
    let r = await daemon.docker(['cp', path.join(local, 'in.txt'), 'fsr:/tmp/in.txt']);
    assert.is(r.code, 0, r.stderr);
    r = await daemon.docker(['cp', path.join(local, 'dir'), 'fsr:/tmp/']);
    assert.is(r.code, 0, r.stderr);
    r = await daemon.docker(['exec', 'fsr', 'cat', '/tmp/in.txt', '/tmp/dir/a.txt']);
    assert.is(r.stdout, 'copied in\nA\n', r.stderr);
    r = await daemon.docker(['cp', path.join(local, 'in.txt'), 'fsx:/work/in.txt']);
    assert.is(r.code, 0, r.stderr);
    const diff = await daemon.docker(['diff', 'fsx']);
    assert.ok(diff.stdout.split('\n').includes('A /work/in.txt'), diff.stdout);

    const target = path.join(daemon.dir, 'escaped');
    const climbing = await tarText([{ path: `../../../../../../../..${target}`, type: 'file', body: 'x' }]);
    r = await daemon.docker(['cp', '-', 'fsx:/work'], climbing);
    assert.not.equal(r.code, 0, 'a tar with .. is refused');
    const throughLink = await tarText([
      { path: 'out', type: 'symlink', linkpath: daemon.dir },
      { path: 'out/escaped', type: 'file', body: 'x' },
    ]);
    for (const ctr of ['fsx', 'fsr']) {
      r = await daemon.docker(['cp', '-', `${ctr}:/tmp`], throughLink);
      assert.not.equal(r.code, 0, `writing through a symlink out of the root is refused (${ctr})`);
    }
    // The container's own symlink to / is its own root: a copy through it stays inside.
    r = await daemon.docker(['cp', path.join(local, 'in.txt'), 'fsx:/work/root/tmp/through-link.txt']);
    assert.is(r.code, 0, r.stderr);
    assert.not.ok(existsSync('/tmp/through-link.txt'), 'nothing written in the host /tmp');
    assert.not.ok(existsSync(target), 'nothing written outside the root');
    r = await daemon.docker(['cp', 'fsx:/tmp/through-link.txt', path.join(local, 'back.txt')]);
    assert.is(r.code, 0, r.stderr);
    assert.is(readFileSync(path.join(local, 'back.txt'), 'utf8'), 'copied in\n');
  });

  test.run();
}

for (const driver of storageDriversOfHost()) filesystemSuite(driver);
