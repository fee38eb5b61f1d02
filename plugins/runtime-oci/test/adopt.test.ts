import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type OciRuntime, runcPlugin } from '../src/index.js';
import { collect, Fixture, processEnded, shimPids, shimsLeft } from './support/fixture.js';

const fx = new Fixture();
test.after(() => fx.cleanup());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

test('a new runtime instance adopts a running container and can kill it', async () => {
  const ctx = fx.context();
  const first = (await runcPlugin.init(ctx)) as OciRuntime;
  const id = fx.newId();
  const req = fx.request(id, ['sh', '-c', 'echo started; sleep 100']);
  const { pid } = await first.create(req);
  await first.start(id);
  // The echo has happened (it is in the log) before the daemon "restarts".
  for (let i = 0; i < 200 && !readFileSync(req.log.path, 'utf8').includes('"log":"started\\n"'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }

  const second = (await runcPlugin.init(ctx)) as OciRuntime; // the daemon restarted
  const adopted = await second.adopt(id, req.stateDir);
  assert.equal(adopted, { state: 'running', pid });
  const streams = await second.connect(id);
  const out = collect(streams);
  const waiting = second.wait(id);
  await second.kill(id, 'KILL');
  const status = await waiting;
  await out.closed;
  assert.is(status.exitCode, 137);
  // And a third instance finds it exited, with its real status.
  const third = (await runcPlugin.init(ctx)) as OciRuntime;
  const again = await third.adopt(id, req.stateDir);
  assert.is(again.state, 'exited');
  assert.is(again.state === 'exited' && again.status.exitCode, 137);
  assert.ok(readFileSync(req.log.path, 'utf8').includes('"log":"started\\n"'));
  await third.delete(id);
});

test('the shim survives the SIGKILL of the process that spawned it', async () => {
  const ctx = fx.context();
  const id = fx.newId();
  const req = fx.request(id, ['sh', '-c', 'while true; do echo tick; sleep 0.1; done']);
  const child = spawn(
    process.execPath,
    ['-r', 'tsx/cjs', path.join(__dirname, 'support/spawner.ts'), ctx.execRoot, id, req.bundle, req.stateDir, req.log.path],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let line = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      line += chunk.toString();
      if (line.includes('\n')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`spawner exited with ${code}`)));
  });
  const { pid } = JSON.parse(line) as { pid: number };
  const [shim] = shimPids(id);
  assert.ok(shim, 'shim is running');
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(alive(shim!), 'shim still alive after its spawner died');
  assert.ok(alive(pid), 'container still alive');
  const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  assert.is(ppid, shim, "the container is the shim's child (subreaper)");

  const runtime = (await runcPlugin.init(ctx)) as OciRuntime;
  assert.equal(await runtime.adopt(id, req.stateDir), { state: 'running', pid });
  const out = collect(await runtime.connect(id));
  await new Promise((resolve) => setTimeout(resolve, 350));
  assert.match(out.stdout(), /tick\n/);
  await runtime.kill(id, 'SIGKILL');
  assert.is((await runtime.wait(id)).exitCode, 137);
  await runtime.delete(id);
  assert.ok(await processEnded(shim!), 'the shim ended');
});

test('adopt of a container whose shim died without a record reports 255 and cleans up', async () => {
  const ctx = fx.context();
  const runtime = (await runcPlugin.init(ctx)) as OciRuntime;
  const id = fx.newId();
  const req = fx.request(id, ['sleep', '100']);
  const { pid } = await runtime.create(req);
  await runtime.start(id);
  const shim = fx.shimPid(id)!;
  process.kill(shim, 'SIGKILL');
  process.kill(pid, 'SIGKILL');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const fresh = (await runcPlugin.init(ctx)) as OciRuntime;
  const result = await fresh.adopt(id, req.stateDir);
  assert.is(result.state, 'exited');
  assert.is(result.state === 'exited' && result.status.exitCode, 255);
  assert.equal(await shimsLeft(id), []);
  await fresh.delete(id);
});

test.run();
