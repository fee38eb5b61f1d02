import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { containerEnded, daemonSuite } from './harness';

/**
 * The example third-party volume driver, `@berth/volume-loop`, loaded by berthd as a
 * third-party plugin package named in daemon.json, through the real docker CLI: a size
 * quota a container cannot exceed (ENOSPC inside, nothing lost), its loop mounts after a
 * kill -9 of berthd (kept for a running container, released for one that ended meanwhile),
 * and the volume events on `docker events`. Every loop device it attached is detached at
 * the end (a leak check of /sys/block/loop*, which the harness does not know about).
 */
const configDir = `/tmp/berth-e2e-volume-loop-config-${process.pid}`;
const configFile = path.join(configDir, 'daemon.json');
mkdirSync(configDir, { recursive: true });
writeFileSync(configFile, JSON.stringify({ plugins: ['@berth/volume-loop'] }));

const test = daemonSuite('volume-loop', 'overlay', { args: ['--config-file', configFile] });

/** The loop devices whose backing file is under `dir`. */
function loopDevicesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync('/sys/block')) {
    if (!entry.startsWith('loop')) continue;
    let backing = '';
    try {
      backing = readFileSync(`/sys/block/${entry}/loop/backing_file`, 'utf8').trim();
    } catch {
      continue;
    }
    if (backing.startsWith(`${dir}/`)) out.push(`/dev/${entry} ${backing}`);
  }
  return out;
}

/** Whether `mountpoint` is mounted in berthd's (the host's) namespace. */
function mounted(mountpoint: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === mountpoint);
}

test('the plugin is loaded from daemon.json; a size quota gives ENOSPC in the container and keeps what was written', async ({ daemon }) => {
  assert.match(await daemon.ok(['plugins', 'ls'], 'berth'), /volume\s+loop\s+ok/);
  await daemon.ok(['volume', 'create', '-d', 'loop', '-o', 'size=16M', 'quota']);
  const inspect = JSON.parse(await daemon.ok(['volume', 'inspect', 'quota'])) as Array<{ Driver: string; Status: { size: number } }>;
  assert.is(inspect[0]!.Driver, 'loop');
  assert.is(inspect[0]!.Status.size, 16 * 1024 * 1024);
  const fill = await daemon.docker([
    'run',
    '--rm',
    '-v',
    'quota:/data',
    'busybox',
    'sh',
    '-c',
    'echo precious > /data/kept && dd if=/dev/zero of=/data/big bs=1M count=64; echo dd=$?; sync',
  ]);
  assert.match(fill.stdout + fill.stderr, /No space left on device/);
  assert.match(fill.stdout, /dd=1/);
  const after = await daemon.ok(['run', '--rm', '-v', 'quota:/data', 'busybox', 'sh', '-c', 'cat /data/kept; stat -c %s /data/big']);
  const [kept, size] = after.split('\n');
  assert.is(kept, 'precious');
  assert.ok(Number(size) < 16 * 1024 * 1024, `big grew to ${size}`);
  assert.equal(loopDevicesUnder(daemon.dir), [], 'no loop device once no container uses it');
  await daemon.ok(['volume', 'rm', 'quota']);
});

test('docker events shows a loop volume create, mount, unmount and destroy', async ({ daemon }) => {
  const since = String(Math.floor(Date.now() / 1000) - 1);
  await daemon.ok(['volume', 'create', '-d', 'loop', '-o', 'size=16M', 'ev']);
  await daemon.ok(['run', '--rm', '-v', 'ev:/data', 'busybox', 'true']);
  await daemon.ok(['volume', 'rm', 'ev']);
  const until = String(Math.floor(Date.now() / 1000) + 1);
  const out = await daemon.ok([
    'events',
    '--since',
    since,
    '--until',
    until,
    '--filter',
    'type=volume',
    '--filter',
    'volume=ev',
    '--format',
    '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}}',
  ]);
  // Mounted once, for the run, as under Docker: busybox has nothing at /data to copy in at create.
  assert.equal(out.split('\n').filter(Boolean), ['create ev loop', 'mount ev loop', 'unmount ev loop', 'destroy ev loop']);
});

test('after kill -9 of berthd: a running container keeps its loop mount; one that ended meanwhile has its released', async ({ daemon }) => {
  const root = path.join(daemon.dataRoot, 'volume', 'loop');
  await daemon.ok(['volume', 'create', '-d', 'loop', '-o', 'size=16M', 'held']);
  await daemon.ok(['volume', 'create', '-d', 'loop', '-o', 'size=16M', 'brief']);
  await daemon.ok(['run', '-d', '--name', 'holder', '-v', 'held:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f; sleep 1000']);
  const short = await daemon.ok(['run', '-d', '--name', 'short', '-v', 'brief:/data', 'busybox', 'sh', '-c', 'sleep 3']);
  assert.ok(mounted(path.join(root, 'held', 'mnt')));
  assert.ok(mounted(path.join(root, 'brief', 'mnt')));
  await daemon.kill('SIGKILL');
  await containerEnded(short); // `short` exits while berthd is down
  await daemon.start(['--config-file', configFile]);
  assert.is(await daemon.ok(['exec', 'holder', 'cat', '/data/f']), 'kept');
  assert.ok(mounted(path.join(root, 'held', 'mnt')), 'the running container keeps its mount');
  assert.not.ok(mounted(path.join(root, 'brief', 'mnt')), 'the ended container has its released');
  assert.is(loopDevicesUnder(daemon.dir).length, 1, loopDevicesUnder(daemon.dir).join(', '));
  await daemon.ok(['rm', '-f', 'holder', 'short']);
  await daemon.ok(['volume', 'rm', 'held', 'brief']);
  assert.equal(loopDevicesUnder(daemon.dir), [], 'every loop device detached');
});

test.after(() => {
  rmSync(configDir, { recursive: true, force: true });
});

test.run();
