import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeFrame } from '@berth/client';
import { FakeDaemon, sendError, sendJson, UPGRADE_RESPONSE } from '@berth/client/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../src/main.js';
import { ID, testIo } from './helpers.js';

const t = suite<{ fake: FakeDaemon }>('commands');

t.before.each(async (ctx) => {
  ctx.fake = await FakeDaemon.start('berth-unit-cli');
});

t.after.each(async (ctx) => {
  await ctx.fake.close();
});

const noContent = (_req: unknown, res: import('node:http').ServerResponse): void => {
  res.writeHead(204);
  res.end();
};

t('ps: query parameters and the table', async ({ fake }) => {
  fake.on('GET', '/containers/json', (_req, res) =>
    sendJson(res, 200, [
      {
        Id: ID,
        Names: ['/web'],
        Image: 'busybox',
        Command: 'sleep 100',
        Created: 1795378395,
        Ports: [],
        State: 'running',
        Status: 'Up 5 seconds',
      },
    ]),
  );
  const io = testIo({ host: fake.host });
  assert.is(await main(['ps', '-a', '--filter', 'name=web', '-f', 'status=running'], io), 0);
  assert.is(
    io.out(),
    'CONTAINER ID   IMAGE     COMMAND       CREATED         STATUS         PORTS     NAMES\n' +
      'c0ffee012345   busybox   "sleep 100"   5 seconds ago   Up 5 seconds             web\n',
  );
  const q = fake.requests[0]!.query;
  assert.is(q.get('all'), '1');
  assert.equal(JSON.parse(q.get('filters')!), { name: { web: true }, status: { running: true } });
  const quiet = testIo({ host: fake.host });
  assert.is(await main(['container', 'ls', '-q', '--no-trunc'], quiet), 0);
  assert.is(quiet.out(), `${ID}\n`);
  const bad = testIo({ host: fake.host });
  assert.is(await main(['ps', '--filter', 'nonsense'], bad), 1);
  assert.is(bad.err(), 'bad format of filter (expected name=value)\n');
  const flag = testIo({ host: fake.host });
  assert.is(await main(['ps', '--bogus'], flag), 125, 'docker exits 125 on a bad flag for every command');
  assert.is(flag.err(), "unknown flag: --bogus\nSee 'berth ps --help'.\n");
});

t('inspect: containers first, then images; unknown names; -f templates', async ({ fake }) => {
  fake.on('GET', /^\/containers\/.+\/json$/, (req, res) => sendError(res, 404, `No such container: ${req.path.split('/')[2]}`));
  fake.on('GET', '/containers/web/json', (_req, res) => sendJson(res, 200, { Id: ID, Name: '/web', State: { Status: 'running' } }));
  fake.on('GET', /^\/images\/.+\/json$/, (req, res) => sendError(res, 404, `no such image: ${req.path.split('/')[2]}`));
  fake.on('GET', '/images/busybox/json', (_req, res) => sendJson(res, 200, { Id: 'sha256:abc', RepoTags: ['busybox:latest'] }));
  const io = testIo({ host: fake.host });
  assert.is(await main(['inspect', 'web', 'busybox', 'nosuch'], io), 1);
  const printed = JSON.parse(io.out());
  assert.equal(
    printed.map((o: { Id: string }) => o.Id),
    [ID, 'sha256:abc'],
  );
  assert.is(io.err(), 'Error: No such object: nosuch\n');
  assert.equal(fake.log, [
    'GET /containers/web/json',
    'GET /containers/busybox/json',
    'GET /images/busybox/json',
    'GET /containers/nosuch/json',
    'GET /images/nosuch/json',
  ]);
  const none = testIo({ host: fake.host });
  assert.is(await main(['inspect', 'nosuch'], none), 1);
  assert.is(none.out(), '[]\n');
  const f = testIo({ host: fake.host });
  assert.is(await main(['inspect', '-f', '{{.State.Status}} {{.Name}}', 'web'], f), 0);
  assert.is(f.out(), 'running /web\n');
  const typed = testIo({ host: fake.host });
  assert.is(await main(['image', 'inspect', 'nosuch'], typed), 1);
  assert.is(typed.err(), 'Error: No such image: nosuch\n');
});

t('logs: tty from inspect, frames split to stdout and stderr, options as query', async ({ fake }) => {
  fake.on('GET', '/containers/web/json', (_req, res) => sendJson(res, 200, { Id: ID, Config: { Tty: false } }));
  fake.on('GET', '/containers/web/logs', (_req, res) => {
    res.writeHead(200);
    res.write(encodeFrame(1, 'out1\n'));
    res.write(encodeFrame(2, 'err1\n'));
    res.end(encodeFrame(1, 'out2\n'));
  });
  const io = testIo({ host: fake.host, now: 1795378400_000 });
  assert.is(await main(['logs', '-f', '-t', '--tail', '2', '--since', '1m', 'web'], io), 0);
  assert.is(io.out(), 'out1\nout2\n');
  assert.is(io.err(), 'err1\n');
  const q = fake.find('GET', '/containers/web/logs')[0]!.query;
  assert.equal(Object.fromEntries(q), { follow: '1', stdout: '1', stderr: '1', since: '1795378340', timestamps: '1', tail: '2' });
  const missing = testIo({ host: fake.host });
  fake.on('GET', '/containers/nosuch/json', (_req, res) => sendError(res, 404, 'No such container: nosuch'));
  assert.is(await main(['logs', 'nosuch'], missing), 1);
  assert.is(missing.err(), 'Error response from daemon: No such container: nosuch\n');
});

t('stats streams: one stats stream per container, the table redrawn with the latest sample until Ctrl-C (130)', async ({ fake }) => {
  const sample = (cpu: number, memory: number) => ({
    id: ID,
    name: '/web',
    read: '',
    preread: '',
    cpu_stats: { cpu_usage: { total_usage: cpu }, system_cpu_usage: 1000, online_cpus: 1 },
    precpu_stats: { cpu_usage: { total_usage: 0 }, system_cpu_usage: 0 },
    memory_stats: { usage: memory, limit: 1024 * 1024 * 1024 },
    pids_stats: { current: 1 },
    blkio_stats: {},
    networks: {},
  });
  let send: ((s: object) => void) | undefined;
  fake.on('GET', '/containers/web/json', (_req, res) => sendJson(res, 200, { Id: ID, Name: '/web' }));
  fake.on('GET', '/containers/web/stats', (req, res) => {
    // As berthd: a stream unless `stream=0` (a false value left out would mean a stream).
    if (req.query.get('stream') === '0') return sendJson(res, 200, sample(100, 3 * 1024 * 1024));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    send = (s) => res.write(`${JSON.stringify(s)}\n`);
    send(sample(100, 1024 * 1024));
  });
  const io = testIo({ host: fake.host });
  const done = main(['stats', 'web'], io);
  // Each redraw: the cursor home, lines ending in erase-line, then erase-below.
  const draws = () =>
    io
      .out()
      .split('\x1b[H')
      .filter(Boolean)
      .map((d) => {
        assert.ok(d.endsWith('\x1b[K\n\x1b[J'), JSON.stringify(d));
        return d.replaceAll('\x1b[K', '').replaceAll('\x1b[J', '');
      });
  for (let i = 0; i < 100 && !draws().some((d) => d.includes('1MiB')); i++) await new Promise((r) => setTimeout(r, 20));
  send!(sample(500, 2 * 1024 * 1024));
  for (let i = 0; i < 100 && !draws().some((d) => d.includes('2MiB')); i++) await new Promise((r) => setTimeout(r, 20));
  io.signal('SIGINT');
  assert.is(await done, 130);
  const [first, last] = [draws().find((d) => d.includes('1MiB'))!, draws().at(-1)!];
  assert.match(
    first,
    /^CONTAINER ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS\nc0ffee012345 +web +10\.00% +1MiB \/ 1GiB /,
  );
  assert.match(last, /\nc0ffee012345 +web +50\.00% +2MiB \/ 1GiB /);
  assert.is(fake.find('GET', '/containers/web/stats')[0]!.query.get('stream'), '1');
  assert.is(io.subscribers(), 0, 'the signal handler is gone');
  const once = testIo({ host: fake.host });
  assert.is(await main(['stats', '--no-stream', 'web'], once), 0);
  assert.match(once.out(), /^CONTAINER ID .*\nc0ffee012345 +web +10\.00% +3MiB \/ 1GiB /);
  assert.not.ok(once.out().includes('\x1b'), 'no escapes without streaming');
  const missing = testIo({ host: fake.host });
  fake.on('GET', '/containers/nosuch/json', (_req, res) => sendError(res, 404, 'No such container: nosuch'));
  assert.is(await main(['stats', 'nosuch'], missing), 1);
  assert.is(missing.err(), 'Error response from daemon: No such container: nosuch\n');
});

t(
  "events: the query (since, until, filters), docker's default line with exact nanoseconds and sorted attributes, --format, Ctrl-C",
  async ({ fake }) => {
    const line = (action: string, nano: string) =>
      `{"status":"${action}","id":"${ID}","from":"busybox","Type":"container","Action":"${action}","Actor":{"ID":"${ID}","Attributes":{"name":"web","image":"busybox","execID":"e1"}},"scope":"local","time":1795378688,"timeNano":${nano}}\n`;
    let live: import('node:http').ServerResponse | undefined;
    fake.on('GET', '/events', (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(line('exec_start: sh -c true', '1795378688233298911'));
      if (req.query.get('until')) return void res.end(line('exec_die', '1795378689000000007'));
      live = res;
    });
    const io = testIo({ host: fake.host, now: 1795378700_000 });
    const zone = process.env.TZ;
    process.env.TZ = 'UTC'; // the line's time is local, as the docker CLI's
    const filters = ['--filter', 'event=exec_start', '--filter', 'container=web'];
    try {
      assert.is(await main(['events', '--since', '1795378600', '--until', '10s', ...filters], io), 0);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
    assert.is(
      io.out(),
      `2026-11-22T20:18:08.233298911Z container exec_start: sh -c true ${ID} (execID=e1, image=busybox, name=web)\n` +
        `2026-11-22T20:18:09.000000007Z container exec_die ${ID} (execID=e1, image=busybox, name=web)\n`,
    );
    const q = fake.find('GET', '/events')[0]!.query;
    assert.equal(Object.fromEntries(q), {
      since: '1795378600',
      until: '1795378690',
      filters: JSON.stringify({ event: { exec_start: true }, container: { web: true } }),
    });
    const formatted = testIo({ host: fake.host });
    const done = main(['system', 'events', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.TimeNano}}'], formatted);
    for (let i = 0; i < 100 && !formatted.out(); i++) await new Promise((r) => setTimeout(r, 20));
    formatted.signal('SIGINT');
    assert.is(await done, 130);
    assert.is(formatted.out(), 'exec_start: sh -c true web 1795378688233298911\n');
    assert.ok(live, 'the stream without --until stayed open until Ctrl-C');
    const json = testIo({ host: fake.host });
    assert.is(await main(['events', '--until', '1', '--format', 'json'], json), 0);
    assert.is(JSON.parse(json.out().split('\n')[0]!).Action, 'exec_start: sh -c true');
  },
);

t('stop, kill, rm, start, wait: names printed in order, errors on stderr, exit 1', async ({ fake }) => {
  fake.on('POST', /^\/containers\/[^/]+\/(stop|kill|start)$/, (req, res) =>
    sendError(res, 404, `No such container: ${req.path.split('/')[2]}`),
  );
  fake.on('POST', /^\/containers\/(a|b)\/(stop|kill|start)$/, noContent);
  fake.on('DELETE', /^\/containers\/[^/]+$/, (req, res) => sendError(res, 404, `No such container: ${req.path.split('/')[2]}`));
  fake.on('DELETE', /^\/containers\/(a|b)$/, noContent);
  fake.on('POST', /^\/containers\/(a|b)\/wait$/, (req, res) =>
    sendJson(res, 200, { StatusCode: req.path.includes('/a/') ? 0 : 7, Error: null }),
  );
  let io = testIo({ host: fake.host });
  assert.is(await main(['stop', '-t', '2', 'a', 'x', 'b'], io), 1);
  assert.is(io.out(), 'a\nb\n');
  assert.is(io.err(), 'Error response from daemon: No such container: x\n');
  assert.is(fake.find('POST', '/containers/a/stop')[0]!.query.get('t'), '2');
  io = testIo({ host: fake.host });
  assert.is(await main(['kill', '-s', 'HUP', 'a'], io), 0);
  assert.is(fake.find('POST', '/containers/a/kill')[0]!.query.get('signal'), 'HUP');
  io = testIo({ host: fake.host });
  assert.is(await main(['rm', '-f', '-v', 'a', 'gone'], io), 0, 'rm -f ignores a container that does not exist');
  assert.is(io.out(), 'a\n');
  assert.is(fake.find('DELETE', '/containers/a')[0]!.query.toString(), 'force=1&v=1');
  io = testIo({ host: fake.host });
  assert.is(await main(['rm', 'gone'], io), 1);
  assert.is(io.err(), 'Error response from daemon: No such container: gone\n');
  io = testIo({ host: fake.host });
  assert.is(await main(['start', 'a', 'x'], io), 1);
  assert.is(io.out(), 'a\n');
  assert.is(io.err(), 'Error response from daemon: No such container: x\nError: failed to start containers: x\n');
  io = testIo({ host: fake.host });
  assert.is(await main(['wait', 'a', 'b'], io), 0);
  assert.is(io.out(), '0\n7\n');
  io = testIo({ host: fake.host });
  assert.is(await main(['stop'], io), 1);
  assert.is(
    io.err(),
    '"berth stop" requires at least 1 argument.\nSee \'berth stop --help\'.\n\nUsage:  berth stop [OPTIONS] CONTAINER [CONTAINER...]\n\nStop one or more running containers\n',
  );
});

t('start -a: attach ∥ wait before start, exit with the status', async ({ fake }) => {
  let waitRes: import('node:http').ServerResponse | undefined;
  let socket: import('node:net').Socket | undefined;
  fake.on('GET', '/containers/web/json', (_req, res) => sendJson(res, 200, { Id: ID, Config: { Tty: false }, HostConfig: {} }));
  fake.onUpgrade('POST', `/containers/${ID}/attach`, (_req, s) => {
    socket = s;
    s.write(UPGRADE_RESPONSE);
    fake.note('attach established');
  });
  fake.on('POST', `/containers/${ID}/wait`, (_req, res) => {
    res.writeHead(200);
    res.flushHeaders();
    waitRes = res;
    fake.note('wait established');
  });
  fake.on('POST', `/containers/${ID}/start`, (_req, res) => {
    res.writeHead(204);
    res.end();
    socket!.end(encodeFrame(1, 'started\n'));
    setTimeout(() => waitRes!.end('{"StatusCode":4,"Error":null}\n'), 5);
  });
  const io = testIo({ host: fake.host });
  assert.is(await main(['start', '-a', 'web'], io), 4);
  assert.is(io.out(), 'started\n');
  const start = fake.log.indexOf(`POST /containers/${ID}/start`);
  assert.ok(fake.log.indexOf('attach established') < start && fake.log.indexOf('wait established') < start);
  assert.is(fake.find('POST', `/containers/${ID}/wait`)[0]!.query.get('condition'), 'next-exit');
});

t('images, rmi, tag', async ({ fake }) => {
  fake.on('GET', '/images/json', (_req, res) =>
    sendJson(res, 200, [
      { Id: `sha256:01e7ee02ed05${'1'.repeat(52)}`, RepoTags: ['busybox:latest'], Created: 1795378400 - 60, Size: 1984172 },
    ]),
  );
  fake.on('DELETE', /^\/images\//, (req, res) => sendError(res, 404, `No such image: ${req.path.slice(8)}`));
  fake.on('DELETE', '/images/busybox:latest', (_req, res) =>
    sendJson(res, 200, [{ Untagged: 'busybox:latest' }, { Deleted: 'sha256:01e7' }]),
  );
  fake.on('POST', /^\/images\/.+\/tag$/, (_req, res) => {
    res.writeHead(201);
    res.end();
  });
  let io = testIo({ host: fake.host });
  assert.is(await main(['images', 'busybox'], io), 0);
  assert.is(
    io.out(),
    'REPOSITORY   TAG       IMAGE ID       CREATED              SIZE\nbusybox      latest    01e7ee02ed05   About a minute ago   1.98MB\n',
  );
  assert.equal(JSON.parse(fake.requests[0]!.query.get('filters')!), { reference: { busybox: true } });
  io = testIo({ host: fake.host });
  assert.is(await main(['rmi', 'busybox:latest', 'nosuch:1'], io), 1);
  assert.is(io.out(), 'Untagged: busybox:latest\nDeleted: sha256:01e7\n');
  assert.is(io.err(), 'Error response from daemon: No such image: nosuch:1\n');
  io = testIo({ host: fake.host });
  assert.is(await main(['tag', 'busybox', '127.0.0.1:5010/trc/busybox:v1'], io), 0);
  const tag = fake.find('POST', '/images/busybox/tag')[0]!;
  assert.equal(Object.fromEntries(tag.query), { repo: '127.0.0.1:5010/trc/busybox', tag: 'v1' });
  io = testIo({ host: fake.host });
  assert.is(await main(['tag', 'busybox'], io), 1);
  assert.match(io.err(), /^"berth tag" requires exactly 2 arguments\./);
});

t('import from a file and from stdin; load; save to a file and to a pipe', async ({ fake }) => {
  const dir = fs.mkdtempSync('/tmp/berth-unit-cli-');
  try {
    const tar = path.join(dir, 'rootfs.tar');
    fs.writeFileSync(tar, Buffer.alloc(2048, 3));
    fake.on('POST', '/images/create', (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify({ status: `sha256:${req.body.length}` })}\n`);
    });
    fake.on('POST', '/images/load', (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify({ stream: `Loaded image: trc/built:${req.body.length}\n` })}\n`);
    });
    fake.on('GET', '/images/get', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      res.end(Buffer.alloc(1536, 9));
    });
    let io = testIo({ host: fake.host });
    assert.is(await main(['import', '-c', 'ENV A=1', '-m', 'hello', tar, 'trc/imported:1'], io), 0);
    assert.is(io.out(), 'sha256:2048\n');
    const imp = fake.find('POST', '/images/create')[0]!;
    assert.equal(Object.fromEntries(imp.query), { fromSrc: '-', repo: 'trc/imported:1', message: 'hello', changes: 'ENV A=1' });
    io = testIo({ host: fake.host, input: Buffer.alloc(1024) });
    assert.is(await main(['import', '-'], io), 0);
    assert.is(io.out(), 'sha256:1024\n');
    io = testIo({ host: fake.host });
    assert.is(await main(['import', path.join(dir, 'nope.tar')], io), 1);
    assert.is(io.err(), `open ${path.join(dir, 'nope.tar')}: no such file or directory\n`);

    io = testIo({ host: fake.host });
    assert.is(await main(['load', '-i', tar], io), 0);
    assert.is(io.out(), 'Loaded image: trc/built:2048\n');
    assert.is(fake.find('POST', '/images/load')[0]!.query.get('quiet'), '1', 'quiet when stdout is not a terminal');
    io = testIo({ host: fake.host, stdinTTY: true });
    assert.is(await main(['load'], io), 1);
    assert.is(io.err(), 'requested load from stdin, but stdin is empty\n');

    const out = path.join(dir, 'saved.tar');
    io = testIo({ host: fake.host });
    assert.is(await main(['save', '-o', out, 'trc/built:1', 'busybox'], io), 0);
    assert.is(fs.statSync(out).size, 1536);
    assert.equal(fake.find('GET', '/images/get')[0]!.query.getAll('names'), ['trc/built:1', 'busybox']);
    assert.equal(fs.readdirSync(dir).sort(), ['rootfs.tar', 'saved.tar'], 'no temporary file left');
    io = testIo({ host: fake.host });
    assert.is(await main(['save', 'busybox'], io), 0);
    assert.is(io.out().length, 1536);
    io = testIo({ host: fake.host, stdoutTTY: true });
    assert.is(await main(['save', 'busybox'], io), 1);
    assert.is(io.err(), 'cowardly refusing to save to a terminal. Use the -o flag or redirect\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('version, info, plugins ls', async ({ fake }) => {
  fake.on('GET', '/version', (_req, res) =>
    sendJson(res, 200, { Version: '0.1.0', ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64' }),
  );
  fake.on('GET', '/info', (_req, res) => sendJson(res, 200, { ServerVersion: '0.1.0', Containers: 2, Warnings: ['WARNING: no swap'] }));
  fake.on('GET', '/berth/plugins', (_req, res) =>
    sendJson(res, 200, [{ kind: 'network', name: 'bridge', status: 'error', reason: 'no iptables', description: '' }]),
  );
  let io = testIo({ host: fake.host });
  assert.is(await main(['version'], io), 0);
  assert.match(io.out(), /\nServer:\n Engine:\n  Version:          0\.1\.0\n  API version:      1\.41 \(minimum version 1\.12\)\n/);
  io = testIo({ host: fake.host });
  assert.is(await main(['version', '--format', '{{.Server.Version}} {{.Client.ApiVersion}}'], io), 0);
  assert.is(io.out(), '0.1.0 1.41\n');
  io = testIo({ host: fake.host });
  assert.is(await main(['info'], io), 0);
  assert.match(io.out(), /\n Containers: 2\n/);
  assert.is(io.err(), 'WARNING: no swap\n');
  io = testIo({ host: fake.host });
  assert.is(await main(['plugins', 'ls'], io), 0);
  assert.is(io.out(), 'KIND      NAME      STATUS    REASON\nnetwork   bridge    error     no iptables\n');
  io = testIo({ host: `unix://${fake.dir}/down.sock` });
  assert.is(await main(['version'], io), 1);
  assert.match(io.out(), /^Client: berth\n Version: +0\.1\.0\n/);
  assert.is(io.err(), `Cannot connect to the berth daemon at unix://${fake.dir}/down.sock. Is berthd running?\n`);
});

t('-H and DOCKER_HOST choose the socket; a tcp host is refused', async ({ fake }) => {
  fake.on('GET', '/containers/json', (_req, res) => sendJson(res, 200, []));
  let io = testIo({ env: { BERTH_HOST: 'unix:///nonexistent.sock' } });
  assert.is(await main(['-H', fake.host, 'ps', '-q'], io), 0);
  io = testIo({ env: { DOCKER_HOST: fake.host } });
  assert.is(await main(['ps', '-q'], io), 0);
  io = testIo({});
  assert.is(await main([`--host=${fake.host}`, 'ps', '-q'], io), 0);
  assert.is(fake.requests.length, 3);
  io = testIo({});
  assert.is(await main(['-H', 'tcp://127.0.0.1:2375', 'ps'], io), 1);
  assert.match(io.err(), /unix:\/\/ sockets only/);
});

t('help, version flag, unknown commands', async () => {
  let io = testIo({});
  assert.is(await main(['run', '--help'], io), 0);
  assert.match(
    io.out(),
    /^\nUsage:  berth run \[OPTIONS\] IMAGE \[COMMAND\] \[ARG\.\.\.\]\n\nCreate and run a new container from an image\n/,
  );
  assert.match(io.out(), /\n  -m, --memory bytes +Memory limit\n/);
  assert.match(io.out(), /\n      --rm +Automatically remove/);
  io = testIo({});
  assert.is(await main(['--version'], io), 0);
  assert.is(io.out(), 'berth version 0.1.0\n');
  io = testIo({});
  assert.is(await main(['frobnicate'], io), 1);
  assert.is(io.err(), "berth: 'frobnicate' is not a berth command.\nSee 'berth --help'\n");
  io = testIo({});
  assert.is(await main(['--bogus'], io), 125);
  io = testIo({});
  assert.is(await main(['image'], io), 0);
  assert.match(io.out(), /Usage:  berth image COMMAND/);
});

t.run();
