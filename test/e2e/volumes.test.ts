import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite } from './harness';

/**
 * Volumes through the real docker CLI: `volume create/ls/inspect/rm/prune` with labels,
 * filters and the local driver's layout, bad input, records and data that survive a
 * berthd killed with SIGKILL; containers with named and anonymous volumes (inspect's
 * Mounts, in-use refusals, `rm -v`, `--rm`), pre-population from the image, events.
 */
const test = daemonSuite('volumes', 'vfs');

test("docker volume create/ls/inspect/rm: Docker's shapes, the local driver's layout under the data root, labels and filters", async ({
  daemon,
}) => {
  assert.is(await daemon.ok(['volume', 'create', '--label', 'app=shop', '--label', 'tier', 'shop-db']), 'shop-db');
  assert.is(await daemon.ok(['volume', 'create', 'cache-1']), 'cache-1');
  const anonymous = await daemon.ok(['volume', 'create']);
  assert.match(anonymous, /^[0-9a-f]{64}$/);

  const [v] = JSON.parse(await daemon.ok(['volume', 'inspect', 'shop-db'])) as Array<Record<string, unknown>>;
  assert.is(v!.Name, 'shop-db');
  assert.is(v!.Driver, 'local');
  assert.is(v!.Scope, 'local');
  assert.is(v!.Mountpoint, path.join(daemon.dataRoot, 'volumes', 'shop-db', '_data'));
  assert.equal(v!.Labels, { app: 'shop', tier: '' });
  assert.ok(!Number.isNaN(Date.parse(String(v!.CreatedAt))), String(v!.CreatedAt));
  assert.ok(existsSync(String(v!.Mountpoint)));

  const names = async (...filters: string[]) =>
    (await daemon.ok(['volume', 'ls', '-q', ...filters.flatMap((f) => ['--filter', f])])).split('\n').filter(Boolean).sort();
  assert.equal(await names(), [anonymous, 'cache-1', 'shop-db'].sort());
  assert.equal(await names('label=app=shop'), ['shop-db']);
  assert.equal(await names('name=cache'), ['cache-1']);
  assert.equal(await names('driver=local', 'label=tier'), ['shop-db']);
  assert.equal(await names('dangling=true'), [anonymous, 'cache-1', 'shop-db'].sort());
  assert.equal(await names('dangling=false'), []);
  const table = await daemon.ok(['volume', 'ls']);
  assert.match(table, /DRIVER\s+VOLUME NAME/);
  assert.match(table, /local\s+shop-db/);

  assert.is(await daemon.ok(['volume', 'rm', 'cache-1']), 'cache-1');
  assert.not.ok(existsSync(path.join(daemon.dataRoot, 'volumes', 'cache-1', '_data')));
  const gone = await daemon.docker(['volume', 'inspect', 'cache-1']);
  assert.is.not(gone.code, 0);
  assert.match(gone.stderr, /no such volume/);
  const rmGone = await daemon.docker(['volume', 'rm', 'cache-1']);
  assert.is.not(rmGone.code, 0);
  assert.match(rmGone.stderr, /get cache-1: no such volume/);
  assert.is((await daemon.docker(['volume', 'rm', '-f', 'cache-1'])).code, 0, 'force: an unknown name is no error');
});

test('bad input: a name with "/" or "..", an unknown driver, an unknown -o option: clear errors, nothing created', async ({ daemon }) => {
  const before = await daemon.ok(['volume', 'ls', '-q']);
  for (const name of ['a/b', '..', '../../etc']) {
    const r = await daemon.docker(['volume', 'create', name]);
    assert.is.not(r.code, 0, name);
    assert.match(r.stderr, /includes invalid characters for a local volume name/, name);
  }
  const driver = await daemon.docker(['volume', 'create', '-d', 'nowhere-driver', 'x1']);
  assert.is.not(driver.code, 0);
  assert.match(driver.stderr, /plugin "nowhere-driver" not found/);
  const opt = await daemon.docker(['volume', 'create', '-o', 'frobnicate=1', 'x2']);
  assert.is.not(opt.code, 0);
  assert.match(opt.stderr, /invalid option for the local volume driver: "frobnicate"/);
  const half = await daemon.docker(['volume', 'create', '-o', 'type=tmpfs', 'x3']);
  assert.is.not(half.code, 0);
  assert.match(half.stderr, /needs the option "device"/);
  const tmpfs = await daemon.ok(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m,uid=1000', 'x4']);
  assert.is(tmpfs, 'x4');
  const [v4] = JSON.parse(await daemon.ok(['volume', 'inspect', 'x4'])) as Array<Record<string, unknown>>;
  assert.equal(v4!.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,uid=1000' });
  assert.is(await daemon.ok(['volume', 'rm', 'x4']), 'x4');
  assert.is(await daemon.ok(['volume', 'ls', '-q']), before);
  assert.not.ok(existsSync(path.join(daemon.dataRoot, 'volumes', 'x1')));
  assert.not.ok(existsSync(path.join(daemon.dataRoot, 'volumes', 'x2')));
  assert.not.ok(existsSync(path.join(daemon.dataRoot, 'volumes', 'x3')));
});

test('a volume and its data survive berthd killed with SIGKILL; prune removes unused volumes and reports the space', async ({ daemon }) => {
  await daemon.ok(['volume', 'create', '--label', 'keep=yes', 'durable']);
  await daemon.ok(['volume', 'create', 'scratch']);
  const mountpoint = path.join(daemon.dataRoot, 'volumes', 'scratch', '_data');
  writeFileSync(path.join(mountpoint, 'blob'), Buffer.alloc(256 * 1024, 1));
  writeFileSync(path.join(daemon.dataRoot, 'volumes', 'durable', '_data', 'note'), 'kept');

  await daemon.kill('SIGKILL');
  await daemon.start();
  const [v] = JSON.parse(await daemon.ok(['volume', 'inspect', 'durable'])) as Array<Record<string, unknown>>;
  assert.equal(v!.Labels, { keep: 'yes' });
  assert.is(readFileSync(path.join(String(v!.Mountpoint), 'note'), 'utf8'), 'kept');

  const pruned = JSON.parse(
    (await daemon.request('POST', `/v1.41/volumes/prune?filters=${encodeURIComponent('{"label!":["keep"]}')}`)).body,
  );
  assert.ok(pruned.VolumesDeleted.includes('scratch'), JSON.stringify(pruned));
  assert.not.ok(pruned.VolumesDeleted.includes('durable'));
  assert.ok(pruned.SpaceReclaimed >= 256 * 1024, JSON.stringify(pruned));
  assert.match(await daemon.ok(['volume', 'ls', '-q']), /^durable$/m);
  const all = await daemon.ok(['volume', 'prune', '-f']);
  assert.match(all, /Deleted Volumes:\ndurable\n/);
  assert.match(all, /Total reclaimed space: [\d.]+kB/);
  assert.is(await daemon.ok(['volume', 'ls', '-q']), '');
});

test("berth volume create/ls/inspect/rm/prune: the same verbs in berth's own CLI", async ({ daemon }) => {
  assert.is(await daemon.ok(['volume', 'create', '--label', 'owner=berth', 'berth-vol'], 'berth'), 'berth-vol');
  assert.is(await daemon.ok(['volume', 'create', '--name', 'berth-other'], 'berth'), 'berth-other');
  assert.equal((await daemon.ok(['volume', 'ls', '-q', '--filter', 'label=owner'], 'berth')).split('\n'), ['berth-vol']);
  assert.match(await daemon.ok(['volume', 'ls'], 'berth'), /DRIVER\s+VOLUME NAME\nlocal\s+berth-other\nlocal\s+berth-vol/);
  assert.is(
    await daemon.ok(['volume', 'inspect', '-f', '{{.Driver}} {{.Mountpoint}} {{.Labels.owner}}', 'berth-vol'], 'berth'),
    `local ${path.join(daemon.dataRoot, 'volumes', 'berth-vol', '_data')} berth`,
  );
  const bad = await daemon.berth(['volume', 'create', 'no/slash']);
  assert.is.not(bad.code, 0);
  assert.match(bad.stderr, /includes invalid characters for a local volume name/);
  assert.is(await daemon.ok(['volume', 'rm', 'berth-other'], 'berth'), 'berth-other');
  const missing = await daemon.berth(['volume', 'rm', 'berth-other']);
  assert.is.not(missing.code, 0);
  assert.match(missing.stderr, /no such volume/);
  assert.match(await daemon.ok(['volume', 'prune', '-f'], 'berth'), /Deleted Volumes:\nberth-vol\n/);
  assert.is(await daemon.ok(['volume', 'ls', '-q'], 'berth'), '');
});

test('-v name:/path creates the volume on first use; its data survives the container, berthd SIGKILL and restart; in use it is not removed', async ({
  daemon,
}) => {
  await daemon.ok(['run', '--rm', '-v', 'kept:/data', 'busybox', 'sh', '-c', 'echo hello > /data/f']);
  const [v] = JSON.parse(await daemon.ok(['volume', 'inspect', 'kept'])) as Array<Record<string, unknown>>;
  assert.is(readFileSync(path.join(String(v!.Mountpoint), 'f'), 'utf8'), 'hello\n');
  const holder = await daemon.ok(['run', '-d', '--name', 'holder', '-v', 'kept:/data:ro', 'busybox', 'sleep', '300']);
  const [mount] = JSON.parse(await daemon.ok(['inspect', '-f', '{{json .Mounts}}', 'holder'])) as Array<Record<string, unknown>>;
  assert.equal(mount, {
    Type: 'volume',
    Name: 'kept',
    Source: v!.Mountpoint,
    Destination: '/data',
    Driver: 'local',
    Mode: 'ro',
    RW: false,
    Propagation: '',
  });
  const refused = await daemon.docker(['volume', 'rm', 'kept']);
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, new RegExp(`remove kept: volume is in use - \\[${holder}\\]`));
  assert.is((await daemon.docker(['volume', 'rm', '-f', 'kept'])).code === 0, false, 'force does not remove a volume in use');
  assert.equal(await daemon.ok(['volume', 'ls', '-q', '--filter', 'dangling=false']), 'kept');
  const ro = await daemon.docker(['exec', 'holder', 'touch', '/data/g']);
  assert.is.not(ro.code, 0, 'mounted read-only');

  await daemon.kill('SIGKILL');
  await daemon.start();
  assert.is(await daemon.ok(['exec', 'holder', 'cat', '/data/f']), 'hello');
  assert.is(await daemon.ok(['run', '--rm', '-v', 'kept:/data', 'busybox', 'cat', '/data/f']), 'hello');
  await daemon.ok(['rm', '-f', 'holder']);
  await daemon.ok(['volume', 'rm', 'kept']);
  assert.not.ok(existsSync(String(v!.Mountpoint)));
  await daemon.ok(['run', '--rm', '-v', 'ev-new:/x', 'busybox', 'true']);

  const since = Math.floor(Date.now() / 1000) - 600;
  const events = await daemon.request(
    'GET',
    `/v1.41/events?since=${since}&until=${Math.floor(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"type":["volume"]}')}`,
  );
  // The events since the restart (the history is in memory): the kept volume's and the new one's.
  const parsed = events.body
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { Action: string; Actor: { ID: string } });
  const actionsOf = (name: string) => parsed.filter((e) => e.Actor.ID === name).map((e) => e.Action);
  for (const action of ['mount', 'unmount', 'destroy']) assert.ok(actionsOf('kept').includes(action), `${action} in ${actionsOf('kept')}`);
  // Docker's: busybox has nothing at /x, so the create mounts nothing for a copy; the run mounts and unmounts.
  assert.equal(actionsOf('ev-new'), ['create', 'mount', 'unmount']);
});

test('anonymous volumes: -v /path and an image VOLUME make one each; rm -v and run --rm remove them, rm alone keeps them', async ({
  daemon,
}) => {
  const before = new Set((await daemon.ok(['volume', 'ls', '-q'])).split('\n').filter(Boolean));
  const fresh = async () => (await daemon.ok(['volume', 'ls', '-q'])).split('\n').filter((n) => n && !before.has(n));
  await daemon.ok(['create', '--name', 'anon1', '-v', '/scratch', 'busybox', 'true']);
  const [m] = JSON.parse(await daemon.ok(['inspect', '-f', '{{json .Mounts}}', 'anon1'])) as Array<Record<string, unknown>>;
  assert.match(String(m!.Name), /^[0-9a-f]{64}$/);
  assert.is(m!.Type, 'volume');
  assert.is(m!.Destination, '/scratch');
  assert.equal(await fresh(), [m!.Name]);
  await daemon.ok(['rm', '-v', 'anon1']);
  assert.equal(await fresh(), [], 'rm -v removed it');

  await daemon.ok(['create', '--name', 'anon2', '-v', '/scratch', 'busybox', 'true']);
  const kept = await fresh();
  await daemon.ok(['rm', 'anon2']);
  assert.equal(await fresh(), kept, 'rm without -v keeps it (dangling)');
  await daemon.ok(['volume', 'rm', kept[0]!]);

  assert.is(await daemon.ok(['run', '--rm', '-v', '/scratch', 'busybox', 'sh', '-c', 'echo x > /scratch/y && cat /scratch/y']), 'x');
  assert.equal(await fresh(), [], '--rm removed its anonymous volume');

  // An image VOLUME: commit one, then each container of it gets a volume there.
  await daemon.ok(['run', '--name', 'vol-base', 'busybox', 'sh', '-c', 'mkdir -p /srv/data && echo seeded > /srv/data/seed']);
  await daemon.ok(['commit', '-c', 'VOLUME /srv/data', 'vol-base', 'berth-e2e-volimg']);
  await daemon.ok(['rm', 'vol-base']);
  assert.is(await daemon.ok(['run', '--rm', 'berth-e2e-volimg', 'cat', '/srv/data/seed']), 'seeded', 'pre-populated from the image');
  assert.equal(await fresh(), []);
});

test('pre-population: an empty volume gets the image content with owners and modes; nocopy and a non-empty volume get none; a symlink never leads out', async ({
  daemon,
}) => {
  await daemon.ok(['create', '--name', 'pre1', '-v', 'etc-copy:/etc', 'busybox', 'true']);
  const data = path.join(daemon.dataRoot, 'volumes', 'etc-copy', '_data');
  assert.ok(existsSync(path.join(data, 'passwd')), readdirSync(data).join(','));
  const inImage = (await daemon.ok(['run', '--rm', 'busybox', 'stat', '-c', '%a %u %g', '/etc', '/etc/passwd'])).split('\n');
  const onHost = [data, path.join(data, 'passwd')].map((p) => {
    const st = statSync(p);
    return `${(st.mode & 0o7777).toString(8)} ${st.uid} ${st.gid}`;
  });
  assert.equal(onHost, inImage);

  await daemon.ok(['create', '--name', 'pre2', '-v', 'nocopy-vol:/etc:nocopy', 'busybox', 'true']);
  assert.equal(readdirSync(path.join(daemon.dataRoot, 'volumes', 'nocopy-vol', '_data')), []);
  await daemon.ok(['volume', 'create', 'full-vol']);
  writeFileSync(path.join(daemon.dataRoot, 'volumes', 'full-vol', '_data', 'mine'), '1');
  await daemon.ok(['create', '--name', 'pre3', '-v', 'full-vol:/etc', 'busybox', 'true']);
  assert.equal(readdirSync(path.join(daemon.dataRoot, 'volumes', 'full-vol', '_data')), ['mine']);

  // An image whose mount point is a symlink to a host directory: resolved inside the image, where it leads nowhere.
  const hostDir = path.join(daemon.dir, 'host-secret');
  mkdirSync(hostDir);
  writeFileSync(path.join(hostDir, 'secret'), 'host only');
  await daemon.ok(['run', '--name', 'link-base', 'busybox', 'ln', '-s', hostDir, '/link']);
  await daemon.ok(['commit', 'link-base', 'berth-e2e-linkimg']);
  await daemon.ok(['create', '--name', 'pre4', '-v', 'link-vol:/link', 'berth-e2e-linkimg', 'true']);
  assert.equal(readdirSync(path.join(daemon.dataRoot, 'volumes', 'link-vol', '_data')), []);
  // ps --filter volume= (a name or a destination) and system df read the volume model.
  assert.equal((await daemon.ok(['ps', '-a', '--format', '{{.Names}}', '--filter', 'volume=etc-copy'])).split('\n'), ['pre1']);
  assert.equal((await daemon.ok(['ps', '-a', '--format', '{{.Names}}', '--filter', 'volume=/link'])).split('\n'), ['pre4']);
  const df = JSON.parse((await daemon.request('GET', '/v1.41/system/df')).body) as {
    Volumes: Array<{ Name: string; UsageData: { Size: number; RefCount: number } }>;
  };
  const full = df.Volumes.find((v) => v.Name === 'full-vol')!;
  assert.equal(full.UsageData.RefCount, 1);
  assert.ok(full.UsageData.Size > 0, JSON.stringify(full));
  const active = df.Volumes.filter((v) => v.UsageData.RefCount > 0).length;
  assert.is(active, 4, 'etc-copy, nocopy-vol, full-vol, link-vol');
  assert.match(await daemon.ok(['system', 'df']), new RegExp(`\\nLocal Volumes\\s+${df.Volumes.length}\\s+${active}\\s`));
  await daemon.ok(['rm', 'pre1', 'pre2', 'pre3', 'pre4', 'link-base']);
});

test('a tmpfs volume (-o type=tmpfs): mounted by its driver while a container runs, its size a hard limit inside, unmounted after the last run', async ({
  daemon,
}) => {
  await daemon.ok(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'quota']);
  const data = path.join(daemon.dataRoot, 'volumes', 'quota', '_data');
  const mountedAt = () =>
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[4] === data);
  await daemon.ok(['run', '-d', '--name', 'q-holder', '-v', 'quota:/q', 'busybox', 'sleep', '300']);
  assert.ok(mountedAt(), 'mounted while a container runs');
  const full = await daemon.docker([
    'run',
    '--rm',
    '-v',
    'quota:/q',
    'busybox',
    'dd',
    'if=/dev/zero',
    'of=/q/big',
    'bs=1024',
    'count=2048',
  ]);
  assert.is.not(full.code, 0);
  assert.match(full.stderr + full.stdout, /No space left on device/);
  assert.ok(mountedAt(), 'still mounted: q-holder holds it');
  assert.is(await daemon.ok(['exec', 'q-holder', 'sh', '-c', 'ls /q']), 'big', 'both containers saw one filesystem');
  await daemon.ok(['rm', '-f', 'q-holder']);
  assert.not.ok(mountedAt(), 'unmounted after the last run');
  await daemon.ok(['volume', 'rm', 'quota']);
});

test("--volumes-from: the other container's volumes and binds, read-only on request; in use by both; rm -v of the borrower keeps them", async ({
  daemon,
}) => {
  const hostDir = path.join(daemon.dir, 'vf-host');
  mkdirSync(hostDir);
  writeFileSync(path.join(hostDir, 'h'), 'host file\n');
  await daemon.ok([
    'run',
    '-d',
    '--name',
    'vf-src',
    '-v',
    'vf-data:/data',
    '-v',
    `${hostDir}:/hostdir`,
    '-v',
    '/anon',
    'busybox',
    'sh',
    '-c',
    'echo shared > /data/f; sleep 300',
  ]);
  for (let i = 0; i < 50 && !existsSync(path.join(daemon.dataRoot, 'volumes', 'vf-data', '_data', 'f')); i++)
    await new Promise((r) => setTimeout(r, 50));
  assert.is(
    await daemon.ok([
      'run',
      '--rm',
      '--volumes-from',
      'vf-src',
      'busybox',
      'sh',
      '-c',
      'cat /data/f /hostdir/h; test -d /anon && echo anon',
    ]),
    'shared\nhost file\nanon',
  );
  const ro = await daemon.docker(['run', '--rm', '--volumes-from', 'vf-src:ro', 'busybox', 'touch', '/data/x']);
  assert.is.not(ro.code, 0, 'read-only on request');
  assert.match(ro.stderr, /Read-only file system/);
  await daemon.ok(['create', '--name', 'vf-user', '--volumes-from', 'vf-src', '-v', 'vf-own:/anon', 'busybox', 'true']);
  const mounts = JSON.parse(await daemon.ok(['inspect', '-f', '{{json .Mounts}}', 'vf-user'])) as Array<{
    Type: string;
    Name?: string;
    Source: string;
    Destination: string;
  }>;
  assert.equal(
    mounts.map((m) => `${m.Type} ${m.Name ?? m.Source} ${m.Destination}`).sort(),
    [`bind ${hostDir} /hostdir`, 'volume vf-data /data', 'volume vf-own /anon'].sort(),
  );
  assert.is(
    await daemon.ok(['run', '--rm', '--volumes-from', 'vf-user', 'busybox', 'cat', '/data/f'], 'berth'),
    'shared',
    "berth's own --volumes-from",
  );
  await daemon.ok(['rm', '-f', 'vf-src']);
  const refused = await daemon.docker(['volume', 'rm', 'vf-data']);
  assert.match(refused.stderr, /volume is in use/);
  await daemon.ok(['rm', '-v', 'vf-user']);
  await daemon.ok(['volume', 'rm', 'vf-data', 'vf-own']);
  const missing = await daemon.docker(['create', '--volumes-from', 'vf-nosuch', 'busybox', 'true']);
  assert.is.not(missing.code, 0);
  assert.match(missing.stderr, /No such container: vf-nosuch/);
});

test('--mount: type=volume (named with volume-opt and nocopy, anonymous), type=bind (readonly), type=tmpfs (size); Mounts in inspect; bad entries refused', async ({
  daemon,
}) => {
  const hostDir = path.join(daemon.dir, 'mount-host');
  mkdirSync(hostDir);
  writeFileSync(path.join(hostDir, 'h'), 'from host\n');
  const out = await daemon.ok([
    'run',
    '--name',
    'mnt',
    '--mount',
    'type=volume,source=mnt-vol,target=/var,volume-nocopy,volume-label=made=by-mount',
    '--mount',
    'type=volume,target=/anon',
    '--mount',
    `type=bind,source=${hostDir},target=/h,readonly`,
    '--mount',
    'type=tmpfs,target=/t,tmpfs-size=65536',
    'busybox',
    'sh',
    '-c',
    'ls /var | wc -l; cat /h/h; touch /h/x 2>/dev/null || echo ro; df -k /t | tail -1 | awk "{print \\$2}"',
  ]);
  assert.equal(out.split('\n'), ['0', 'from host', 'ro', '64']);
  const [v] = JSON.parse(await daemon.ok(['volume', 'inspect', 'mnt-vol'])) as Array<Record<string, unknown>>;
  assert.equal(v!.Labels, { made: 'by-mount' });
  const mounts = JSON.parse(await daemon.ok(['inspect', '-f', '{{json .Mounts}}', 'mnt'])) as Array<{
    Type: string;
    Name?: string;
    Destination: string;
    RW: boolean;
  }>;
  assert.equal(mounts.map((m) => `${m.Type} ${m.Destination} ${m.RW}`).sort(), [
    'bind /h false',
    'tmpfs /t true',
    'volume /anon true',
    'volume /var true',
  ]);
  const anon = mounts.find((m) => m.Destination === '/anon')!.Name!;
  await daemon.ok(['rm', '-v', 'mnt']);
  assert.not.ok((await daemon.ok(['volume', 'ls', '-q'])).split('\n').includes(anon), '--mount anonymous volume removed by rm -v');
  await daemon.ok(['volume', 'rm', 'mnt-vol']);

  const tmpfsVol = await daemon.ok([
    'run',
    '--rm',
    '--mount',
    'type=volume,source=mnt-tmp,target=/q,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=1m',
    'busybox',
    'sh',
    '-c',
    'df -k /q | tail -1 | awk "{print \\$2}"',
  ]);
  assert.is(tmpfsVol, '1024', 'volume-opt made a tmpfs volume of 1 MiB');
  await daemon.ok(['volume', 'rm', 'mnt-tmp']);

  const missing = await daemon.docker([
    'create',
    '--mount',
    `type=bind,source=${path.join(daemon.dir, 'absent')},target=/x`,
    'busybox',
    'true',
  ]);
  assert.is.not(missing.code, 0);
  assert.match(missing.stderr, /bind source path does not exist/);
  const badSource = await daemon.docker(['create', '--mount', 'type=tmpfs,source=x,target=/x', 'busybox', 'true']);
  assert.is.not(badSource.code, 0);
});

test.run();
