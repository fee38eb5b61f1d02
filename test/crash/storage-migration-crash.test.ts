import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite, mountsUnder, repo, type TestDaemon } from '../e2e/harness';

/**
 * `berth storage migrate` through the CLI and berthd, on a data root of a real daemon:
 * its refusals, then kill -9 of the migration (`berthd storage migrate`, by its pid) the
 * instant it prints a chosen step, in the crash suite's style, and the same command run
 * again through `berth storage migrate` (or `--abort`): afterwards berthd opens the data
 * root on the new driver, the images run, the stopped container starts with its changes
 * and `docker diff` shows what it showed before. Each round migrates back the other way.
 */
const test = daemonSuite('storage migration: refusals and kill -9', 'overlay');

/** The stopped container `keep`: its first run changes its root; a later run exits 7 when it finds the changes. */
const keepScript = [
  'if [ -f /m ]; then grep -q hello /m && [ ! -e /etc/group ] && [ "$(cat /etc/motd)" = changed ] && exit 7; exit 9; fi',
  'echo hello > /m; echo changed > /etc/motd; rm /etc/group; mkdir -p /d/e; exit 0',
].join('\n');
let diffBefore = '';

function flags(d: TestDaemon): string[] {
  return ['--data-root', d.dataRoot, '--exec-root', d.execRoot, '--config-file', path.join(d.dir, 'none.json')];
}

/** `berth storage migrate …` (the CLI, which runs berthd's migration). */
function cliMigrate(d: TestDaemon, args: string[]) {
  return d.berth(['storage', 'migrate', ...args, ...flags(d)]);
}

/** Run `berthd storage migrate --to <to>` and SIGKILL it the moment it prints a line matching `at`; true when it was killed there. */
function migrateKilledAt(d: TestDaemon, to: string, at: RegExp): Promise<{ killed: boolean; output: string }> {
  const child = spawn(path.join(repo, 'bin/berthd'), ['storage', 'migrate', '--to', to, ...flags(d)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS')),
  });
  let output = '';
  let killed = false;
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk;
    if (!killed && output.split('\n').some((line) => at.test(line))) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  return new Promise((resolve) => child.on('close', (_code, signal) => resolve({ killed: killed && signal === 'SIGKILL', output })));
}

/** After a migration to `driver`: berthd opens the data root on it and everything works as before. */
async function assertOn(d: TestDaemon, driver: string): Promise<void> {
  assert.equal(readdirSync(path.join(d.dataRoot, 'storage')), [driver], "only the driver's own state is left");
  assert.not.ok(existsSync(path.join(d.dataRoot, 'storage-migration')), 'no journal left');
  assert.equal(
    mountsUnder(d.dir).filter((m) => m.includes('storage-migration')),
    [],
    'nothing of the migration stays mounted',
  );
  d.storageDriver = driver;
  await d.start();
  assert.is(await d.ok(['info', '--format', '{{.Driver}}']), driver);
  assert.is(await d.ok(['diff', 'keep']), diffBefore, 'docker diff of the stopped container is what it was');
  const again = await d.docker(['start', '-a', 'keep']);
  assert.is(again.code, 7, `the stopped container starts with its changes: ${again.stderr}`);
  const fromCommit = await d.docker(['run', '--rm', 'migrated/commit:v1', 'sh', '-c', keepScript]);
  assert.is(fromCommit.code, 7, `a container of the committed image runs on its layers: ${fromCommit.stderr}`);
  assert.is(await d.ok(['run', '--rm', 'busybox', 'sh', '-c', 'test -e /etc/group && echo base']), 'base');
  assert.is(await d.ok(['start', '-a', 'created']), 'hello', 'the created container starts');
  await d.kill('SIGTERM');
}

test('refused while berthd holds the data root, while a container runs (named), for an unknown or the same driver', async ({
  daemon: d,
}) => {
  let r = await cliMigrate(d, ['--to', 'vfs']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /while a daemon uses the data root: berthd pid \d+/);
  await d.ok(['run', '-d', '--name', 'busy', 'busybox', 'sleep', '600']);
  await d.kill('SIGTERM'); // the container keeps running under its shim
  try {
    r = await cliMigrate(d, ['--to', 'vfs']);
  } finally {
    await d.start();
    await d.ok(['rm', '-f', 'busy']);
    await d.kill('SIGTERM');
  }
  assert.is(r.code, 1);
  assert.match(r.stderr, /cannot migrate storage while containers run: busy/);
  r = await cliMigrate(d, ['--to', 'zfs']);
  assert.match(r.stderr, /unknown storage driver "zfs" \(known: [a-z, ]*overlay[a-z, ]*\)/);
  r = await cliMigrate(d, ['--to', 'overlay']);
  assert.match(r.stderr, /already uses the overlay storage driver/);
  r = await cliMigrate(d, []);
  assert.match(r.stderr, /--to <driver> is required/);
  assert.equal(readdirSync(path.join(d.dataRoot, 'storage')), ['overlay'], 'nothing was made');
  await d.start();
  // The state every round moves: images, a stopped container with changes, a created one.
  await d.ok(['run', '--name', 'keep', 'busybox', 'sh', '-c', keepScript]);
  await d.ok(['commit', 'keep', 'migrated/commit:v1']);
  await d.ok(['create', '--name', 'created', 'migrated/commit:v1', 'cat', '/m']);
  diffBefore = await d.ok(['diff', 'keep']);
  await d.kill('SIGTERM');
});

const rounds: Array<{ to: string; at: RegExp; abort?: boolean }> = [
  { to: 'vfs', at: /^journal written/ },
  { to: 'overlay', at: /^layer sha256:\S+ on overlay/ },
  { to: 'vfs', at: /^container (keep|created) on vfs/ },
  { to: 'overlay', at: /^switch:/ },
  { to: 'vfs', at: /^removed overlay snapshot/ },
  { to: 'overlay', at: /^layer sha256:\S+ on overlay/, abort: true },
];

for (const round of rounds) {
  test(`kill -9 at "${round.at.source}" of a migration to ${round.to}, then ${round.abort ? '--abort undoes it' : 'run again finishes it'}`, async ({
    daemon: d,
  }) => {
    const from = d.storageDriver;
    const cut = await migrateKilledAt(d, round.to, round.at);
    assert.ok(cut.killed, `the migration was killed at its step: ${cut.output}`);
    // No berthd opens a data root mid-migration.
    const refused = await d.berth(['info']); // (no daemon runs: the CLI cannot connect)
    assert.is.not(refused.code, 0);
    const r = await cliMigrate(d, round.abort ? ['--abort'] : ['--to', round.to]);
    assert.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, round.abort ? /^undone: /m : /^done: .* now uses /m);
    await assertOn(d, round.abort ? from : round.to);
  });
}

test("berthd refuses a data root with an unfinished migration, saying how to finish it, and one holding another driver's state", async ({
  daemon: d,
}) => {
  const cut = await migrateKilledAt(d, 'overlay', /^journal written/);
  assert.ok(cut.killed, cut.output);
  let message = '';
  try {
    await d.start();
  } catch (err) {
    message = (err as Error).message;
  }
  assert.match(message, /storage migration of .* from vfs to overlay is unfinished: finish it with berth storage migrate --to overlay/);
  const r = await cliMigrate(d, ['--abort']);
  assert.is(r.code, 0, r.stderr);
  // Nor does it open a data root holding another driver's state, even when told to.
  d.storageDriver = 'overlay';
  message = '';
  try {
    await d.start();
  } catch (err) {
    message = (err as Error).message;
  }
  assert.match(
    message,
    /storage driver overlay was chosen with --storage-driver, but .* holds the state of vfs: .*berth storage migrate --to overlay/,
  );
  d.storageDriver = 'vfs';
  await d.start();
});

test.run();
