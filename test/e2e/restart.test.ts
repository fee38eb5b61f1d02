import * as assert from 'uvu/assert';
import { containerEnded, daemonSuite, shimPids } from './harness';

/** Containers outlive berthd: their shims own them, and a new berthd re-adopts them. */
const test = daemonSuite('daemon restart', 'overlay');

test('kill -9 of berthd leaves a -d container running; a new berthd lists it and stops it', async ({ daemon }) => {
  const run = await daemon.berth([
    'run',
    '-d',
    '--name',
    'survivor',
    'busybox',
    'sh',
    '-c',
    'trap "exit 7" TERM; while true; do sleep 0.2; done',
  ]);
  assert.is(run.code, 0, run.stderr);
  const quick = await daemon.berth(['run', '-d', '--name', 'quick', 'busybox', 'sh', '-c', 'sleep 1; exit 5']);
  assert.is(quick.code, 0, quick.stderr);
  assert.is(shimPids(daemon.dir).length, 2);

  await daemon.kill('SIGKILL');
  assert.is(shimPids(daemon.dir).length >= 1, true, 'the shims outlive the daemon');
  await containerEnded(quick.stdout.trim()); // "quick" exits while no daemon watches

  await daemon.start();
  const ps = await daemon.berth(['ps', '--format', '{{.Names}} {{.Status}}']);
  assert.match(ps.stdout, /survivor Up /);
  const quickState = await daemon.berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'quick']);
  assert.is(quickState.stdout.trim(), 'exited 5', 'the exit code observed by the shim while berthd was down');

  const stop = await daemon.berth(['stop', 'survivor']);
  assert.is(stop.code, 0, stop.stderr);
  const state = await daemon.berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'survivor']);
  assert.is(state.stdout.trim(), 'exited 7');
  assert.equal(shimPids(daemon.dir), []);
});

test.run();
