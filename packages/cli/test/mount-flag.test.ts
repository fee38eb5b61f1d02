import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type FlagSpec, parseArgs } from '../src/argv.js';
import { buildCreateRequest, CONTAINER_FLAGS } from '../src/container-options.js';
import { parseMountFlag } from '../src/mount-flag.js';

function build(argv: string[]) {
  const p = parseArgs(argv, CONTAINER_FLAGS as FlagSpec[]);
  return buildCreateRequest(p.flags, p.args[0]!, p.args.slice(1), { detach: false, env: {}, readFile: () => '', cwd: '/work' });
}

test('--mount: every field the docker CLI knows, in HostConfig.Mounts as it sends them', () => {
  assert.equal(
    parseMountFlag(
      'type=volume,source=data,target=/var/lib/db,volume-nocopy,volume-driver=loop,volume-opt=size=1G,volume-opt=o=x=y,volume-label=a=b,volume-label=c',
      '/w',
    ),
    {
      Type: 'volume',
      Source: 'data',
      Target: '/var/lib/db',
      VolumeOptions: { NoCopy: true, DriverConfig: { Name: 'loop', Options: { size: '1G', o: 'x=y' } }, Labels: { a: 'b', c: '' } },
    },
  );
  assert.equal(parseMountFlag('target=/anon', '/w'), { Type: 'volume', Target: '/anon' }, 'volume by default');
  assert.equal(parseMountFlag('type=bind,src=./conf,dst=/etc/app,readonly,bind-propagation=RSLAVE,bind-nonrecursive', '/w'), {
    Type: 'bind',
    Source: '/w/conf',
    Target: '/etc/app',
    ReadOnly: true,
    BindOptions: { Propagation: 'rslave', NonRecursive: true },
  });
  assert.equal(parseMountFlag('type=bind,source=/h,destination=/c,ro=false,consistency=Cached', '/w'), {
    Type: 'bind',
    Source: '/h',
    Target: '/c',
    ReadOnly: false,
    Consistency: 'cached',
  });
  assert.equal(parseMountFlag('type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770', '/w'), {
    Type: 'tmpfs',
    Target: '/t',
    TmpfsOptions: { SizeBytes: 64 * 1024 * 1024, Mode: 0o1770 },
  });
  assert.equal(parseMountFlag('type=volume,"volume-opt=o=a,b",target=/q', '/w').VolumeOptions, {
    DriverConfig: { Options: { o: 'a,b' } },
  });
  assert.is(parseMountFlag('type=volume,target=/x,volume-nocopy=false', '/w').VolumeOptions!.NoCopy, false);
});

test("--mount refusals in docker's words", () => {
  const refused: Array<[string, string]> = [
    ['type=volume,source=x', 'target is required'],
    ['type=,target=/x', 'type is required'],
    ['target=/x,frob=1', "unexpected key 'frob' in 'frob=1'"],
    ['target=/x,frob', "invalid field 'frob' must be a key=value pair"],
    ['target=/x,readonly=maybe', 'invalid value for readonly: maybe'],
    ['type=tmpfs,target=/t,tmpfs-size=lots', 'invalid value for tmpfs-size: lots'],
    ['type=tmpfs,target=/t,tmpfs-mode=999', 'invalid value for tmpfs-mode: 999'],
    ['type=bind,source=/h,target=/t,volume-nocopy', "cannot mix 'volume-*' options with mount type 'bind'"],
    ['type=volume,target=/t,bind-propagation=shared', "cannot mix 'bind-*' options with mount type 'volume'"],
    ['type=volume,target=/t,tmpfs-size=1m', "cannot mix 'tmpfs-*' options with mount type 'volume'"],
    ['type=volume,target=/t,"volume-opt=o', 'parse error on line 1: extraneous or missing " in quoted-field'],
  ];
  for (const [value, message] of refused)
    assert.throws(
      () => parseMountFlag(value, '/w'),
      (e: Error) => e.message === message,
      value,
    );
  assert.throws(
    () => build(['--mount', 'target=/x,frob', 'busybox']),
    (e: Error) => e.message === `invalid argument "target=/x,frob" for "--mount" flag: invalid field 'frob' must be a key=value pair`,
  );
});

test('run/create: --mount, --tmpfs, --volume-driver, --volumes-from and -v go through to the create request', () => {
  const { body } = build([
    '--mount',
    'type=volume,src=db,dst=/db',
    '--mount',
    'type=tmpfs,dst=/scratch,tmpfs-size=1m',
    '--tmpfs',
    '/run:size=64k,mode=1777',
    '--tmpfs',
    '/cache',
    '--volume-driver',
    'loop',
    '--volumes-from',
    'other:ro',
    '-v',
    'data:/data:nocopy',
    'busybox',
  ]);
  const h = body.HostConfig!;
  assert.equal(h.Mounts, [
    { Type: 'volume', Source: 'db', Target: '/db' },
    { Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 1024 * 1024 } },
  ]);
  assert.equal(h.Tmpfs, { '/run': 'size=64k,mode=1777', '/cache': '' });
  assert.is(h.VolumeDriver, 'loop');
  assert.equal(h.VolumesFrom, ['other:ro']);
  assert.equal(h.Binds, ['data:/data:nocopy']);
});

test.run();
