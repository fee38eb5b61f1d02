import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { withTimeout } from '@berth/testkit/timeout';
import * as assert from 'uvu/assert';
import { daemonSuite } from './harness';

/**
 * The local driver's edges through the real docker CLI and berth's own: pre-population
 * of a hostile image (symlinks out, `..` chains, hard links, device nodes, fifos,
 * owners and setuid), Docker's rule for when it copies, a berthd SIGKILLed in the middle
 * of a copy; `-v` of a missing host path against `--mount`'s refusal; each `-v` mode;
 * `--tmpfs` with size and mode; `system df -v`; berth's `--mount` and `--tmpfs`.
 */
const test = daemonSuite('volumes-local', 'vfs');

const volumeData = (dataRoot: string, name: string) => path.join(dataRoot, 'volumes', name, '_data');

test('pre-population of a hostile image: symlinks out and ".." chains copied as links, never followed; hard links, devices, fifos, owners and setuid kept', async ({
  daemon,
}) => {
  // A host directory the image's links name: nothing of it may be read into the volume, nothing written to it.
  const hostDir = path.join(daemon.dir, 'host-etc');
  mkdirSync(hostDir);
  writeFileSync(path.join(hostDir, 'shadow'), 'host secret');
  const make = [
    'mkdir -p /data/sub',
    'echo payload > /data/sub/file',
    'ln /data/sub/file /data/hard',
    `ln -s ${hostDir} /data/to-host`,
    'ln -s /etc /data/to-etc',
    'ln -s ../../../../../../../../etc/passwd /data/sub/dotdot',
    'ln -s /data/sub/../../../.. /data/loop',
    'mkfifo /data/fifo',
    'mknod /data/null c 1 3',
    'echo x > /data/suid && chown 123:456 /data/suid && chmod 4755 /data/suid',
    'chown 7:8 /data && chmod 1750 /data',
  ].join(' && ');
  await daemon.ok(['run', '--name', 'hostile-base', 'busybox', 'sh', '-c', make]);
  await daemon.ok(['commit', 'hostile-base', 'berth-e2e-hostile']);
  await daemon.ok(['rm', 'hostile-base']);

  await daemon.ok(['create', '--name', 'hostile', '-v', 'hostile-vol:/data', 'berth-e2e-hostile', 'true']);
  const data = volumeData(daemon.dataRoot, 'hostile-vol');
  assert.equal(readdirSync(data).sort(), ['fifo', 'hard', 'loop', 'null', 'sub', 'suid', 'to-etc', 'to-host']);
  assert.is(readlinkSync(path.join(data, 'to-host')), hostDir, 'a link, not a copy of the host directory');
  assert.is(readlinkSync(path.join(data, 'to-etc')), '/etc');
  assert.is(readlinkSync(path.join(data, 'sub', 'dotdot')), '../../../../../../../../etc/passwd');
  assert.ok(lstatSync(path.join(data, 'loop')).isSymbolicLink());
  assert.equal(readdirSync(hostDir), ['shadow'], 'nothing written through a link');
  assert.is(statSync(path.join(data, 'hard')).ino, statSync(path.join(data, 'sub', 'file')).ino, 'a hard link stays one');
  assert.ok(lstatSync(path.join(data, 'fifo')).isFIFO());
  const nul = lstatSync(path.join(data, 'null'));
  assert.ok(nul.isCharacterDevice());
  assert.is(nul.rdev, statSync('/dev/null').rdev);
  const suid = statSync(path.join(data, 'suid'));
  assert.is(`${suid.uid}:${suid.gid} ${(suid.mode & 0o7777).toString(8)}`, '123:456 4755');
  const root = statSync(data);
  assert.is(`${root.uid}:${root.gid} ${(root.mode & 0o7777).toString(8)}`, '7:8 1750');
  // Inside a container the links resolve in its own root: the image's /etc, never the host's.
  assert.is(
    await daemon.ok(['run', '--rm', '-v', 'hostile-vol:/data', 'busybox', 'cat', '/data/sub/file', '/data/hard']),
    'payload\npayload',
  );
  await daemon.ok(['rm', 'hostile']);
  await daemon.ok(['volume', 'rm', 'hostile-vol']);
});

test("Docker's rule: the copy is made when a container is created with an empty volume; a restart copies nothing; an emptied volume is filled by the next create", async ({
  daemon,
}) => {
  // /usr, not /etc: the runtime makes the mount points of /etc/hosts and the like in a volume at /etc.
  await daemon.ok(['create', '--name', 'rule1', '-v', 'rule-vol:/usr', 'busybox', 'true']);
  const data = volumeData(daemon.dataRoot, 'rule-vol');
  assert.equal(readdirSync(data).sort(), ['bin', 'sbin']);
  await daemon.ok(['start', '-a', 'rule1']);
  for (const entry of readdirSync(data)) await daemon.ok(['run', '--rm', '-v', 'rule-vol:/v', 'busybox', 'rm', '-rf', `/v/${entry}`]);
  assert.equal(readdirSync(data), []);
  await daemon.ok(['start', '-a', 'rule1']);
  assert.equal(readdirSync(data), [], 'a restart of the same container copies nothing');
  await daemon.ok(['create', '--name', 'rule2', '-v', 'rule-vol:/usr', 'busybox', 'true']);
  assert.equal(readdirSync(data).sort(), ['bin', 'sbin'], 'the next create fills the emptied volume, as dockerd does');
  await daemon.ok(['rm', 'rule1', 'rule2']);
  await daemon.ok(['volume', 'rm', 'rule-vol']);
});

test(
  'berthd SIGKILLed in the middle of a pre-population: the restarted berthd empties the half-filled volume; the next create fills it whole',
  withTimeout(120_000, async ({ daemon }) => {
    const files = 'mkdir /data && cd /data && for d in $(seq 1 100); do mkdir $d; for f in $(seq 1 200); do echo $d $f > $d/$f; done; done';
    await daemon.ok(['run', '--name', 'big-base', 'busybox', 'sh', '-c', files]);
    await daemon.ok(['commit', 'big-base', 'berth-e2e-big']);
    await daemon.ok(['rm', 'big-base']);
    const record = path.join(daemon.dataRoot, 'volumes', '_records', 'half-vol.json');
    const data = volumeData(daemon.dataRoot, 'half-vol');
    const marked = () => existsSync(record) && (JSON.parse(readFileSync(record, 'utf8')) as { populating?: boolean }).populating === true;
    let caught = false;
    // The copy takes a fraction of a second: try until berthd is caught in it (a create that finished is undone and tried again).
    for (let attempt = 0; attempt < 5 && !caught; attempt++) {
      const create = daemon.docker(['create', '--name', 'half', '-v', 'half-vol:/data', 'berth-e2e-big', 'true']);
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && !marked()) {
        if (existsSync(data) && readdirSync(data).length > 0 && !marked()) break;
        // A millisecond between looks: the copy's window is far longer, and a loop of
        // setImmediate would take a whole CPU from the berthd doing the copy.
        await new Promise((r) => setTimeout(r, 1));
      }
      if (marked()) {
        await daemon.kill('SIGKILL');
        caught = true;
        await create;
        await daemon.start();
      } else {
        await create;
        await daemon.ok(['rm', 'half']);
        await daemon.ok(['volume', 'rm', 'half-vol']);
      }
    }
    assert.ok(caught, 'berthd was killed in the middle of the copy');
    assert.equal(readdirSync(data), [], 'the half-filled volume was emptied at start, not taken for complete');
    assert.not.ok(marked());
    await daemon.docker(['rm', '-f', 'half']);
    await daemon.ok(['create', '--name', 'whole', '-v', 'half-vol:/data', 'berth-e2e-big', 'true']);
    assert.is(
      await daemon.ok(['run', '--rm', '-v', 'half-vol:/data', 'busybox', 'sh', '-c', 'find /data | wc -l']),
      String(1 + 100 + 100 * 200),
    );
    await daemon.ok(['rm', 'whole']);
    await daemon.ok(['volume', 'rm', 'half-vol']);
  }),
);

test('-v of a missing host path creates it as a directory (as dockerd); --mount type=bind refuses it, naming the path', async ({
  daemon,
}) => {
  const missing = path.join(daemon.dir, 'made-by-v', 'deeper');
  assert.is(await daemon.ok(['run', '--rm', '-v', `${missing}:/x`, 'busybox', 'sh', '-c', 'echo in > /x/f && cat /x/f']), 'in');
  assert.ok(statSync(missing).isDirectory());
  assert.is((statSync(missing).mode & 0o777).toString(8), '755');
  assert.is(readFileSync(path.join(missing, 'f'), 'utf8'), 'in\n');
  const other = path.join(daemon.dir, 'never-made');
  for (const cli of ['docker', 'berth'] as const) {
    const args = ['create', '--mount', `type=bind,source=${other},target=/x`, 'busybox', 'true'];
    const r = cli === 'docker' ? await daemon.docker(args) : await daemon.berth(args);
    assert.is.not(r.code, 0, cli);
    assert.match(r.stderr, new RegExp(`bind source path does not exist: ${other}`), cli);
  }
  assert.not.ok(existsSync(other), 'nothing created');
});

test('-v name:/path with ro, rw, z, Z and nocopy: each behaves, and inspect shows its mode', async ({ daemon }) => {
  await daemon.ok(['volume', 'create', 'modes']);
  const run = (mode: string, cmd: string) => daemon.docker(['run', '--rm', '-v', `modes:/m:${mode}`, 'busybox', 'sh', '-c', cmd]);
  const ro = await run('ro', 'touch /m/ro');
  assert.is.not(ro.code, 0);
  assert.match(ro.stderr, /Read-only file system/);
  for (const mode of ['rw', 'z', 'Z', 'rw,z']) assert.is((await run(mode, `touch /m/${mode.replace(',', '-')}`)).code, 0, mode);
  assert.equal(readdirSync(volumeData(daemon.dataRoot, 'modes')).sort(), ['Z', 'rw', 'rw-z', 'z']);
  for (const mode of ['ro', 'rw', 'z', 'Z', 'nocopy']) {
    await daemon.ok(['create', '--name', `mode-${mode}`, '-v', `modes:/m:${mode}`, 'busybox', 'true']);
    const [m] = JSON.parse(await daemon.ok(['inspect', '-f', '{{json .Mounts}}', `mode-${mode}`])) as Array<{ Mode: string; RW: boolean }>;
    assert.is(m!.Mode, mode);
    assert.is(m!.RW, mode !== 'ro', mode);
    await daemon.ok(['rm', `mode-${mode}`]);
  }
  // nocopy: an empty volume at a directory the image fills stays empty.
  const passwd = 'test -e /etc/passwd && echo copied || echo empty';
  assert.is(await daemon.ok(['run', '--rm', '-v', 'modes-empty:/etc:nocopy', 'busybox', 'sh', '-c', passwd]), 'empty');
  assert.is(await daemon.ok(['run', '--rm', '-v', 'modes-full:/etc', 'busybox', 'sh', '-c', passwd]), 'copied');
  await daemon.ok(['volume', 'rm', 'modes', 'modes-empty', 'modes-full']);
});

test('--tmpfs /path:size=…,mode=… and berth run --mount/--tmpfs: sizes and modes inside the container', async ({ daemon }) => {
  const script = 'df -k /t | tail -1 | awk "{print \\$2}"; stat -c %a /t';
  assert.equal((await daemon.ok(['run', '--rm', '--tmpfs', '/t:size=64k,mode=1770', 'busybox', 'sh', '-c', script])).split('\n'), [
    '64',
    '1770',
  ]);
  assert.equal(
    (await daemon.ok(['run', '--rm', '--tmpfs', '/t:size=128k,mode=700', 'busybox', 'sh', '-c', script], 'berth')).split('\n'),
    ['128', '700'],
    "berth's --tmpfs",
  );
  assert.equal(
    (
      await daemon.ok(
        ['run', '--rm', '--mount', 'type=tmpfs,dst=/t,tmpfs-size=256k,tmpfs-mode=1777', 'busybox', 'sh', '-c', script],
        'berth',
      )
    ).split('\n'),
    ['256', '1777'],
    "berth's --mount type=tmpfs",
  );
  const host = path.join(daemon.dir, 'mount-src');
  mkdirSync(host);
  writeFileSync(path.join(host, 'h'), 'host\n');
  const out = await daemon.ok(
    [
      'run',
      '--rm',
      '--mount',
      'type=volume,src=berth-mount-vol,dst=/v,volume-label=by=berth',
      '--mount',
      `type=bind,src=${host},dst=/h,readonly`,
      'busybox',
      'sh',
      '-c',
      'echo v > /v/f; cat /h/h; touch /h/x 2>/dev/null || echo ro',
    ],
    'berth',
  );
  assert.equal(out.split('\n'), ['host', 'ro']);
  const [v] = JSON.parse(await daemon.ok(['volume', 'inspect', 'berth-mount-vol'])) as Array<{ Labels: Record<string, string> }>;
  assert.equal(v!.Labels, { by: 'berth' });
  assert.is(readFileSync(path.join(volumeData(daemon.dataRoot, 'berth-mount-vol'), 'f'), 'utf8'), 'v\n');
  const bad = await daemon.berth(['run', '--rm', '--mount', 'type=bind,dst=/x,volume-nocopy', 'busybox', 'true']);
  assert.is.not(bad.code, 0);
  assert.match(bad.stderr, /cannot mix 'volume-\*' options with mount type 'bind'/);
  await daemon.ok(['volume', 'rm', 'berth-mount-vol']);
});

test('system df -v lists every volume with its links and size', async ({ daemon }) => {
  await daemon.ok(['volume', 'create', 'df-sized']);
  writeFileSync(path.join(volumeData(daemon.dataRoot, 'df-sized'), 'blob'), Buffer.alloc(300 * 1000, 1));
  await daemon.ok(['create', '--name', 'df-user', '-v', 'df-sized:/d', 'busybox', 'true']);
  await daemon.ok(['volume', 'create', 'df-empty']);
  for (const cli of ['docker', 'berth'] as const) {
    const out = await daemon.ok(['system', 'df', '-v'], cli);
    assert.match(out, /Local Volumes space usage:\s+VOLUME NAME\s+LINKS\s+SIZE/, cli);
    assert.match(out, /\ndf-sized\s+1\s+30\d(\.\d+)?kB\n/, cli);
    assert.match(out, /\ndf-empty\s+0\s+0B(\n|$)/, cli);
  }
  await daemon.ok(['rm', 'df-user']);
  await daemon.ok(['volume', 'rm', 'df-sized', 'df-empty']);
});

test.run();
