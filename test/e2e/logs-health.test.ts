import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite, sleep } from './harness';

/** Log rotation and log drivers through the real docker CLI. */
const test = daemonSuite('logs and health', 'overlay');

async function waitExit(daemon: { docker(args: string[]): Promise<{ stdout: string }> }, name: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await daemon.docker(['inspect', '-f', '{{.State.Running}}', name])).stdout.trim() === 'false') return;
    await sleep(100);
  }
}

test('a container writing a few MB stays within max-size × max-file; docker logs returns the newest lines in order', async ({ daemon }) => {
  const run = await daemon.docker([
    'run',
    '-d',
    '--name',
    'flood',
    '--log-opt',
    'max-size=100k',
    '--log-opt',
    'max-file=3',
    'busybox',
    'sh',
    '-c',
    'i=0; while [ $i -lt 40000 ]; do echo "line $i with some padding to make it longer"; i=$((i+1)); done',
  ]);
  assert.is(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  await waitExit(daemon, 'flood');
  const cfg = await daemon.docker(['inspect', '-f', '{{json .HostConfig.LogConfig}}', 'flood']);
  assert.equal(JSON.parse(cfg.stdout), { Type: 'json-file', Config: { 'max-file': '3', 'max-size': '100k' } });
  const dir = path.join(daemon.dataRoot, 'containers', id);
  const logs = readdirSync(dir).filter((n) => n.startsWith(`${id}-json.log`));
  assert.ok(logs.length <= 3, logs.join(', '));
  const onDisk = logs.reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
  assert.ok(onDisk <= 3 * 100 * 1024, `${onDisk} bytes on disk`);
  const out = await daemon.docker(['logs', 'flood']);
  assert.is(out.code, 0, out.stderr);
  const numbers = out.stdout
    .trimEnd()
    .split('\n')
    .map((l) => Number(l.split(' ')[1]));
  assert.is(numbers[numbers.length - 1], 39999);
  assert.ok(numbers.length > 1000 && numbers[0]! > 0, `${numbers.length} lines from ${numbers[0]}`);
  for (let i = 1; i < numbers.length; i++) assert.is(numbers[i], numbers[i - 1]! + 1, `line ${i}`);
  const tail = await daemon.docker(['logs', '--tail', '2', '-t', 'flood']);
  assert.match(tail.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z line 39998 .*\n\S+ line 39999 /);
  assert.is((await daemon.docker(['rm', 'flood'])).code, 0);
});

test('logs -f follows a container across rotations without losing a line', async ({ daemon }) => {
  const run = await daemon.docker([
    'run',
    '-d',
    '--name',
    'follow',
    '--log-opt',
    'max-size=20k',
    '--log-opt',
    // Room for every line (about 180 KiB in 20 KiB files, nine rotations), so a follower
    // slowed down by a loaded machine can lag without the rotation outrunning it: what is
    // tested is following across rotations, not how far behind a reader may fall.
    'max-file=20',
    'busybox',
    'sh',
    '-c',
    'sleep 1; i=0; while [ $i -lt 3000 ]; do echo "n $i"; i=$((i+1)); [ $((i % 300)) = 0 ] && sleep 0.1; done',
  ]);
  assert.is(run.code, 0, run.stderr);
  const out = await daemon.docker(['logs', '-f', 'follow']);
  assert.is(out.code, 0, out.stderr);
  const numbers = out.stdout
    .trimEnd()
    .split('\n')
    .map((l) => Number(l.split(' ')[1]));
  // 3000 lines of ~60 bytes of json each went through 20 KiB files: nine rotations.
  assert.is(numbers.length, 3000);
  for (let i = 0; i < numbers.length; i++) assert.is(numbers[i], i);
  assert.is((await daemon.docker(['rm', 'follow'])).code, 0);
});

test('--log-driver none: no log file, docker logs answers that the driver cannot be read; unknown drivers are refused by name', async ({
  daemon,
}) => {
  const run = await daemon.docker(['run', '--name', 'quiet', '--log-driver', 'none', 'busybox', 'echo', 'hello']);
  assert.is(run.code, 0, run.stderr);
  assert.is(run.stdout, 'hello\n'); // attached output still arrives
  const logs = await daemon.docker(['logs', 'quiet']);
  assert.is(logs.code, 1);
  assert.match(logs.stderr, /configured logging driver does not support reading/);
  const cfg = await daemon.docker(['inspect', '-f', '{{.HostConfig.LogConfig.Type}} [{{.LogPath}}]', 'quiet']);
  assert.is(cfg.stdout.trim(), 'none []');
  assert.is((await daemon.docker(['rm', 'quiet'])).code, 0);
  const bad = await daemon.docker(['run', '--rm', '--log-driver', 'nosuch', 'busybox', 'true']);
  assert.is(bad.code, 125);
  assert.match(bad.stderr, /no log driver named 'nosuch' is registered/);
});

test('docker run --health-cmd: a passing check becomes healthy, a failing one unhealthy; ps shows it; --no-healthcheck has none', async ({
  daemon,
}) => {
  const ok = await daemon.docker([
    'run',
    '-d',
    '--name',
    'hok',
    '--health-cmd',
    'true',
    '--health-interval',
    '1s',
    'busybox',
    'sleep',
    '30',
  ]);
  assert.is(ok.code, 0, ok.stderr);
  const bad = await daemon.docker([
    'run',
    '-d',
    '--name',
    'hbad',
    '--health-cmd',
    'exit 1',
    '--health-interval',
    '1s',
    '--health-retries',
    '1',
    'busybox',
    'sleep',
    '30',
  ]);
  assert.is(bad.code, 0, bad.stderr);
  const status = async (name: string) => (await daemon.docker(['inspect', '-f', '{{.State.Health.Status}}', name])).stdout.trim();
  let okStatus = '';
  let badStatus = '';
  for (let i = 0; i < 100 && (okStatus !== 'healthy' || badStatus !== 'unhealthy'); i++) {
    [okStatus, badStatus] = [await status('hok'), await status('hbad')];
    if (okStatus !== 'healthy' || badStatus !== 'unhealthy') await sleep(100);
  }
  assert.is(okStatus, 'healthy');
  assert.is(badStatus, 'unhealthy');
  const ps = await daemon.docker(['ps', '--format', '{{.Names}} {{.Status}}']);
  assert.match(ps.stdout, /^hok Up .* \(healthy\)$/m);
  assert.match(ps.stdout, /^hbad Up .* \(unhealthy\)$/m);
  const log = JSON.parse((await daemon.docker(['inspect', '-f', '{{json .State.Health}}', 'hbad'])).stdout);
  assert.ok(log.FailingStreak >= 1 && log.Log.at(-1).ExitCode === 1, JSON.stringify(log));
  const off = await daemon.docker(['run', '-d', '--name', 'hoff', '--no-healthcheck', 'busybox', 'sleep', '30']);
  assert.is(off.code, 0, off.stderr);
  assert.is((await daemon.docker(['inspect', '-f', '{{.State.Health}}', 'hoff'])).stdout.trim(), '<nil>');
  assert.is((await daemon.docker(['rm', '-f', 'hok', 'hbad', 'hoff'])).code, 0);
});

test.run();
