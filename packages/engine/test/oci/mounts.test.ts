import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isBerthError } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type BindRequest,
  bindMount,
  checkBindSource,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  defaultMounts,
  ensureBindSource,
  etcFileMounts,
  type OciMount,
  orderMounts,
  parseBind,
  tmpfsMounts,
  volumeMount,
} from '../../src/oci/index.js';

const find = (ms: OciMount[], dest: string) => ms.find((m) => m.destination === dest);

test('defaultMounts: Docker system mounts with their options', () => {
  const ms = defaultMounts({ cgroupVersion: 1 });
  assert.equal(
    ms.map((m) => m.destination),
    ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm'],
  );
  assert.equal(find(ms, '/proc'), { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] });
  assert.equal(find(ms, '/dev')?.options, ['nosuid', 'strictatime', 'mode=755', 'size=65536k']);
  const pts = find(ms, '/dev/pts')?.options ?? [];
  for (const o of ['newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']) assert.ok(pts.includes(o), o);
  assert.ok(find(ms, '/sys')?.options.includes('ro'));
  assert.is(find(ms, '/sys')?.type, 'sysfs');
  assert.is(find(ms, '/sys/fs/cgroup')?.type, 'cgroup');
  assert.ok(find(ms, '/sys/fs/cgroup')?.options.includes('ro'));
  assert.is(find(ms, '/dev/mqueue')?.type, 'mqueue');
  assert.ok(find(ms, '/dev/shm')?.options.includes(`size=${64 * 1024 * 1024}`));
});

test('defaultMounts: ShmSize, privileged, cgroup v2, ipc modes', () => {
  assert.ok(find(defaultMounts({ cgroupVersion: 1, shmSize: 1 << 20 }), '/dev/shm')?.options.includes('size=1048576'));
  const priv = defaultMounts({ cgroupVersion: 1, privileged: true });
  assert.ok(find(priv, '/sys')?.options.includes('rw'));
  assert.not.ok(find(priv, '/sys')?.options.includes('ro'));
  assert.ok(find(priv, '/sys/fs/cgroup')?.options.includes('rw'));
  const v2 = find(defaultMounts({ cgroupVersion: 2 }), '/sys/fs/cgroup');
  assert.is(v2?.type, 'cgroup2');
  assert.is(find(defaultMounts({ cgroupVersion: 1, ipc: 'none' }), '/dev/shm'), undefined);
  assert.equal(find(defaultMounts({ cgroupVersion: 1, ipc: 'host' }), '/dev/shm')?.source, '/dev/shm');
});

test('masked and read-only paths are the documented lists', () => {
  assert.equal([...DEFAULT_MASKED_PATHS].sort(), [
    '/proc/acpi',
    '/proc/asound',
    '/proc/kcore',
    '/proc/keys',
    '/proc/latency_stats',
    '/proc/sched_debug',
    '/proc/scsi',
    '/proc/timer_list',
    '/proc/timer_stats',
    '/sys/devices/virtual/powercap',
    '/sys/firmware',
  ]);
  assert.equal([...DEFAULT_READONLY_PATHS].sort(), ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
});

test('parseBind: binds', () => {
  assert.equal(parseBind('/host:/ctr'), {
    kind: 'bind',
    source: '/host',
    destination: '/ctr',
    readonly: false,
    propagation: 'rprivate',
    raw: '/host:/ctr',
  });
  const ro = parseBind('/host/./a/:/ctr/b/:ro,rshared') as BindRequest;
  assert.is(ro.source, '/host/a/');
  assert.is(ro.destination, '/ctr/b/');
  assert.ok(ro.readonly);
  assert.is(ro.propagation, 'rshared');
  assert.is((parseBind('/h:/c:Z') as BindRequest).relabel, 'Z');
  assert.not.ok(parseBind('/h:/c:rw,delegated').readonly);
});

test('parseBind: volumes are returned for the engine to resolve', () => {
  assert.equal(parseBind('data:/data'), {
    kind: 'volume',
    name: 'data',
    destination: '/data',
    readonly: false,
    nocopy: false,
    raw: 'data:/data',
  });
  assert.equal(parseBind('data:/data:ro,nocopy'), {
    kind: 'volume',
    name: 'data',
    destination: '/data',
    readonly: true,
    nocopy: true,
    raw: 'data:/data:ro,nocopy',
  });
  assert.equal(parseBind('/anon'), { kind: 'volume', name: '', destination: '/anon', readonly: false, nocopy: false, raw: '/anon' });
  assert.ok(parseBind('/anon:ro').readonly);
  assert.is(parseBind('/anon:ro').kind, 'volume');
});

test('parseBind: errors say what is wrong', () => {
  const bad = (spec: string, tail: string) =>
    assert.throws(
      () => parseBind(spec),
      (e: Error) => isBerthError(e, 'InvalidArgument') && e.message === `invalid volume specification: '${spec}': ${tail}`,
      spec,
    );
  bad('/h:rel', `invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`);
  bad('data:rel', `invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute`);
  bad('/h:/', "destination can't be '/'");
  bad('/h:/c:bogus', 'invalid mode: bogus');
  bad('/h:/c:ro,rw', 'invalid mode: ro,rw');
  bad('/h:/c:nocopy', 'invalid mode: nocopy (nocopy applies to volumes only)');
  bad('a:b:c:d', 'expected [source:]destination[:options]');
  bad('', 'expected [source:]destination[:options]');
  assert.throws(() => parseBind('bad name!:/x'), /includes invalid characters for a local volume name/);
});

test('ensureBindSource: -v of a missing host path creates it (and its parents) as a 0755 directory; an existing one is left alone', () => {
  const dir = mkdtempSync('/tmp/berth-unit-spec-bind-');
  try {
    assert.is(ensureBindSource(parseBind(`${dir}:/x`) as BindRequest), false);
    assert.is(ensureBindSource(parseBind(`${dir}/a/b:/x`) as BindRequest), true);
    const st = statSync(`${dir}/a/b`);
    assert.ok(st.isDirectory());
    assert.is((st.mode & 0o777).toString(8), '755');
    writeFileSync(`${dir}/file`, '');
    assert.throws(
      () => ensureBindSource(parseBind(`${dir}/file/sub:/x`) as BindRequest),
      (e: Error) =>
        isBerthError(e, 'InvalidArgument') && e.message.startsWith(`error while creating mount source path '${dir}/file/sub': ENOTDIR`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("checkBindSource: a missing host path is refused with Docker's message", () => {
  const dir = mkdtempSync('/tmp/berth-unit-spec-bind-');
  try {
    checkBindSource(parseBind(`${dir}:/x`) as BindRequest);
    assert.throws(
      () => checkBindSource(parseBind(`${dir}/missing:/x`) as BindRequest),
      (e: Error) =>
        isBerthError(e, 'InvalidArgument') &&
        e.message === `invalid mount config for type "bind": bind source path does not exist: ${dir}/missing`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bindMount and volumeMount options', () => {
  assert.equal(bindMount(parseBind('/h:/c') as BindRequest), {
    destination: '/c',
    type: 'bind',
    source: '/h',
    options: ['rbind', 'rprivate'],
  });
  assert.equal(bindMount(parseBind('/h:/c:ro,rslave') as BindRequest).options, ['rbind', 'ro', 'rslave']);
  const vol = parseBind('vol:/d:ro');
  assert.throws(() => parseBind('v:/d'), /invalid characters/, 'one-character names are refused, as by Docker');
  assert.is(vol.kind, 'volume');
  if (vol.kind === 'volume') {
    assert.equal(volumeMount(vol, '/var/lib/berth/volumes/vol/_data'), {
      destination: '/d',
      type: 'bind',
      source: '/var/lib/berth/volumes/vol/_data',
      options: ['rbind', 'ro', 'rprivate'],
    });
  }
});

test('tmpfsMounts: Docker defaults, overridable', () => {
  assert.equal(tmpfsMounts({ '/run': '' }), [
    { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev'] },
  ]);
  assert.equal(tmpfsMounts({ '/tmp': 'exec,size=10m,mode=1777' })[0]?.options, ['nosuid', 'nodev', 'exec', 'size=10m', 'mode=1777']);
  assert.throws(() => tmpfsMounts({ tmp: '' }), /must be absolute/);
  assert.throws(() => tmpfsMounts({ '/': '' }), /can't be '\/'/);
  assert.throws(() => tmpfsMounts({ '/t': 'size=1m;rm -rf' }), /invalid tmpfs option/);
  assert.equal(tmpfsMounts(null), []);
});

test('etcFileMounts: binds of the engine files, read-only with a read-only rootfs', () => {
  const files = { hostname: '/x/hostname', hosts: '/x/hosts', resolvConf: '/x/resolv.conf' };
  const ms = etcFileMounts(files);
  assert.equal(
    ms.map((m) => [m.destination, m.source]),
    [
      ['/etc/resolv.conf', '/x/resolv.conf'],
      ['/etc/hostname', '/x/hostname'],
      ['/etc/hosts', '/x/hosts'],
    ],
  );
  assert.ok(ms.every((m) => m.type === 'bind' && !m.options.includes('ro')));
  assert.ok(etcFileMounts(files, true).every((m) => m.options.includes('ro')));
  assert.equal(etcFileMounts({ hosts: '/x/hosts' }).length, 1);
});

test('orderMounts: user mounts replace system ones and go parent-first', () => {
  const sys = defaultMounts({ cgroupVersion: 1 });
  const user: OciMount[] = [
    { destination: '/a/b/c', type: 'bind', source: '/1', options: [] },
    { destination: '/dev/shm', type: 'bind', source: '/2', options: [] },
    { destination: '/a', type: 'bind', source: '/3', options: [] },
    { destination: '/z', type: 'bind', source: '/4', options: [] },
  ];
  const out = orderMounts(sys, user);
  assert.equal(
    out.filter((m) => m.destination === '/dev/shm').map((m) => m.source),
    ['/2'],
  );
  const tail = out.slice(sys.length - 1).map((m) => m.destination);
  assert.equal(tail, ['/a', '/z', '/dev/shm', '/a/b/c']);
  assert.throws(() => orderMounts(sys, [user[0] as OciMount, user[0] as OciMount]), /Duplicate mount point: \/a\/b\/c/);
});

test.run();
