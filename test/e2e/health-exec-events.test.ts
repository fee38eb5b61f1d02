import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite, repo, sleep, type TestDaemon } from './harness';

/**
 * Health checks across a berthd restart and past their timeout, ExecIDs, exec and health
 * events with their filters, `ps --filter health=`, and `berth stats` streaming: through
 * the real docker CLI 28 and `berth`.
 */
const test = daemonSuite('health, exec ids and events', 'overlay');

interface Health {
  Status: string;
  FailingStreak: number;
  Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
}

async function health(daemon: TestDaemon, name: string): Promise<Health | null> {
  const r = await daemon.docker(['inspect', '-f', '{{json .State.Health}}', name]);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Health | null;
}

/** Polls until `ok` holds for the container's health (the caller asserts on what it returns). */
async function healthWhen(daemon: TestDaemon, name: string, ok: (h: Health) => boolean): Promise<Health | null> {
  let h: Health | null = null;
  for (let i = 0; i < 150; i++) {
    h = await health(daemon, name);
    if (h && ok(h)) return h;
    await sleep(100);
  }
  return h;
}

async function idOf(daemon: TestDaemon, name: string): Promise<string> {
  return (await daemon.docker(['inspect', '-f', '{{.Id}}', name])).stdout.trim();
}

test('State.Health survives a kill -9 of berthd: the status, streak and log are kept and the checks resume', async ({ daemon }) => {
  const run = await daemon.docker([
    'run',
    '-d',
    '--name',
    'hdur',
    '--health-cmd',
    'exit 1',
    '--health-interval',
    '2s',
    '--health-retries',
    '1',
    'busybox',
    'sleep',
    '300',
  ]);
  assert.is(run.code, 0, run.stderr);
  const record = path.join(daemon.dataRoot, 'containers', await idOf(daemon, 'hdur'), 'container.json');
  // Wait for the unhealthy status to be on disk, not only in berthd's memory.
  let saved: Health | undefined;
  for (let i = 0; i < 150 && saved?.Status !== 'unhealthy'; i++) {
    saved = JSON.parse(readFileSync(record, 'utf8')).state.Health as Health | undefined;
    if (saved?.Status !== 'unhealthy') await sleep(100);
  }
  assert.is(saved?.Status, 'unhealthy');
  const before = (await health(daemon, 'hdur'))!;

  await daemon.kill('SIGKILL');
  const restarted = Date.now();
  await daemon.start();
  const after = await health(daemon, 'hdur');
  assert.is(after?.Status, 'unhealthy', 'not back to starting');
  assert.ok(after!.FailingStreak >= saved!.FailingStreak, JSON.stringify(after));
  assert.ok(
    // By instant, not by text: the docker CLI re-renders times as Go does (trailing zeros dropped).
    after!.Log.some((l) => Date.parse(l.Start) === Date.parse(saved!.Log.at(-1)!.Start)),
    `the probes before the restart are kept: ${JSON.stringify({ saved, after })}`,
  );
  const resumed = await healthWhen(daemon, 'hdur', (h) => h.Log.some((l) => Date.parse(l.Start) >= restarted));
  assert.ok(
    resumed?.Log.some((l) => Date.parse(l.Start) >= restarted),
    'a probe by the new berthd',
  );
  assert.ok(resumed!.FailingStreak > before.FailingStreak, 'the streak carries on');
  const ps = await daemon.docker(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}} {{.Status}}']);
  assert.match(ps.stdout, /^hdur Up .* \(unhealthy\)$/m);
  assert.is((await daemon.docker(['rm', '-f', 'hdur'])).code, 0);
});

test("a probe past --health-timeout is killed and fails with dockerd's message; the probes do not pile up", async ({ daemon }) => {
  const run = await daemon.docker([
    'run',
    '-d',
    '--name',
    'hslow',
    '--health-cmd',
    'sleep 777',
    '--health-timeout',
    '500ms',
    '--health-interval',
    '200ms',
    '--health-retries',
    '1',
    'busybox',
    'sleep',
    '300',
  ]);
  assert.is(run.code, 0, run.stderr);
  const h = await healthWhen(daemon, 'hslow', (x) => x.Log.length >= 3);
  assert.is(h?.Status, 'unhealthy');
  assert.equal(
    h?.Log.map((l) => [l.ExitCode, l.Output]),
    h?.Log.map(() => [-1, 'Health check exceeded timeout (500ms)']),
  );
  // Three probes ran past their timeout; had they been left running, three `sleep 777` would be.
  let probes = Infinity;
  for (let i = 0; i < 50 && probes > 1; i++) {
    const top = await daemon.docker(['top', 'hslow']);
    assert.is(top.code, 0, top.stderr);
    probes = top.stdout.split('\n').filter((l) => l.endsWith('sleep 777')).length;
    if (probes > 1) await sleep(100);
  }
  assert.ok(probes <= 1, `${probes} probes running`);
  assert.is((await daemon.docker(['rm', '-f', 'hslow'])).code, 0);
});

test('ExecIDs lists running execs (null when none); exec and health events reach docker events with their filters', async ({ daemon }) => {
  const since = String(Math.floor(Date.now() / 1000) - 1);
  assert.is((await daemon.docker(['run', '-d', '--name', 'ev', '-l', 'team=blue', 'busybox', 'sleep', '300'])).code, 0);
  const h = await daemon.docker([
    'run',
    '-d',
    '--name',
    'hev',
    '-l',
    'team=green',
    '--health-cmd',
    'true',
    '--health-interval',
    '300ms',
    'busybox',
    'sleep',
    '300',
  ]);
  assert.is(h.code, 0, h.stderr);
  assert.is((await daemon.docker(['inspect', '-f', '{{json .ExecIDs}}', 'ev'])).stdout.trim(), 'null');
  assert.is((await daemon.docker(['exec', '-d', 'ev', 'sleep', '2'])).code, 0);
  const ids = JSON.parse((await daemon.docker(['inspect', '-f', '{{json .ExecIDs}}', 'ev'])).stdout) as string[];
  assert.is(ids.length, 1);
  assert.match(ids[0]!, /^[0-9a-f]{64}$/);
  const shown = await daemon.docker(['exec', 'ev', 'sh', '-c', 'true']);
  assert.is(shown.code, 0, shown.stderr);
  assert.is((await healthWhen(daemon, 'hev', (x) => x.Status === 'healthy'))?.Status, 'healthy');

  const until = String(Math.floor(Date.now() / 1000) + 1);
  const events = async (...filters: string[]) => {
    const args = ['events', '--since', since, '--until', until, '--format', '{{.Actor.Attributes.name}} {{.Action}}'];
    for (const f of filters) args.push('--filter', f);
    const r = await daemon.docker(args);
    assert.is(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').filter(Boolean);
  };
  assert.equal(await events('event=exec_start', 'container=ev'), ['ev exec_start: sleep 2', 'ev exec_start: sh -c true']);
  assert.equal(await events('event=exec_create', 'label=team=blue'), ['ev exec_create: sleep 2', 'ev exec_create: sh -c true']);
  assert.equal(await events('event=exec_die', 'container=ev'), ['ev exec_die']);
  assert.equal(await events('event=exec_start: sh -c true'), ['ev exec_start: sh -c true']);
  assert.equal(await events('event=health_status', 'container=hev'), ['hev health_status: healthy']);
  assert.equal(await events('event=health_status: healthy', 'label=team=green'), ['hev health_status: healthy']);
  assert.equal(await events('event=health_status', 'label=team=blue'), []);
  // berth's own CLI: the same events, docker's default line.
  const berthEvents = await daemon.berth([
    'events',
    '--since',
    since,
    '--until',
    until,
    '--filter',
    'event=exec_start',
    '--filter',
    'container=ev',
  ]);
  assert.is(berthEvents.code, 0, berthEvents.stderr);
  const evId = await idOf(daemon, 'ev');
  const lines = berthEvents.stdout.trim().split('\n');
  assert.is(lines.length, 2, berthEvents.stdout);
  assert.match(
    lines[1]!,
    new RegExp(
      `^\\d{4}-\\d\\d-\\d\\dT[\\d:]+\\.\\d{9}Z container exec_start: sh -c true ${evId} \\(execID=[0-9a-f]{64}, image=busybox, name=ev, team=blue\\)$`,
    ),
  );
  const berthHealth = await daemon.berth([
    'events',
    '--since',
    since,
    '--until',
    until,
    '--filter',
    'event=health_status',
    // Only hev's: an earlier test's container may still report its health in this window.
    '--filter',
    'container=hev',
    '--format',
    '{{.Actor.Attributes.name}} {{.Action}}',
  ]);
  assert.equal(berthHealth.stdout.trim().split('\n'), ['hev health_status: healthy']);

  const ps = async (filter: string) => (await daemon.docker(['ps', '--filter', filter, '--format', '{{.Names}}'])).stdout.split('\n');
  assert.ok((await ps('health=healthy')).includes('hev'));
  assert.not.ok((await ps('health=healthy')).includes('ev'));
  assert.ok((await ps('health=none')).includes('ev'));
  assert.not.ok((await ps('health=starting')).includes('hev'));
  const bad = await daemon.docker(['ps', '--filter', 'health=sick']);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /Unrecognised filter value for health: sick/);
  // berth's own CLI sees the same.
  const berthPs = await daemon.berth(['ps', '--filter', 'health=healthy', '--format', '{{.Names}} {{.Status}}']);
  assert.match(berthPs.stdout, /^hev Up .* \(healthy\)$/m);
  assert.is((await daemon.berth(['inspect', '-f', '{{json .ExecIDs}}', 'hev'])).code, 0);
});

test('berth stats streams: the table is redrawn with fresh samples until Ctrl-C (130); --no-stream prints one table', async ({
  daemon,
}) => {
  const once = await daemon.berth(['stats', '--no-stream', 'ev']);
  assert.is(once.code, 0, once.stderr);
  assert.match(once.stdout, /^CONTAINER ID +NAME +CPU % .*\n[0-9a-f]{12} +ev +/);
  assert.not.ok(once.stdout.includes('\x1b'), 'no escapes without streaming');
  const child = spawn(path.join(repo, 'bin/berth'), ['stats', 'ev'], {
    env: { ...process.env, BERTH_HOST: daemon.host, NODE_OPTIONS: '' },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const draws = () => out.split('\x1b[H').filter((d) => /\n[0-9a-f]{12} +ev +/.test(d));
    for (let i = 0; i < 100 && draws().length < 3; i++) await sleep(100);
    assert.ok(draws().length >= 3, `three redraws: ${JSON.stringify(out.slice(-500))}`);
    child.kill('SIGINT');
    assert.is(await exited, 130);
  } finally {
    child.kill('SIGKILL');
  }
  assert.is((await daemon.docker(['rm', '-f', 'ev', 'hev'])).code, 0);
});

test.run();
