import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { isBerthError } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type OciRuntime, runcPlugin } from '../src/index.js';
import { cgroupDirs, collect, Fixture, shimsLeft } from './support/fixture.js';

const fx = new Fixture();
let runtime: OciRuntime;

test.before(async () => {
  runtime = (await runcPlugin.init(fx.context())) as OciRuntime;
});
test.after(() => fx.cleanup());

test('output written before and after start arrives through connect; exit 0', async () => {
  const id = fx.newId();
  const { pid } = await runtime.create(fx.request(id, ['sh', '-c', 'echo hello; echo oops >&2']));
  assert.ok(pid > 1);
  const streams = await runtime.connect(id);
  const out = collect(streams);
  const before = Date.now();
  await runtime.start(id);
  const status = await runtime.wait(id);
  await out.closed;
  assert.is(status.exitCode, 0);
  assert.is(status.oomKilled, false);
  // The shim's own UTC clock reading, RFC 3339 with nanoseconds, between the start and now.
  assert.match(status.finishedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
  const finished = Date.parse(status.finishedAt);
  assert.ok(finished >= before - 1000 && finished <= Date.now() + 1000, `${status.finishedAt} is not now`);
  assert.is(out.stdout(), 'hello\n');
  assert.is(out.stderr(), 'oops\n');
  await runtime.delete(id);
  assert.not.ok(existsSync(fx.stateDir(id)));
});

test('the exit code propagates; several waiters and a late waiter get it', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['sh', '-c', 'sleep 0.2; exit 3']));
  await runtime.start(id);
  const [a, b] = await Promise.all([runtime.wait(id), runtime.wait(id)]);
  assert.is(a.exitCode, 3);
  assert.is(b.exitCode, 3);
  const late = await runtime.wait(id);
  assert.is(late.exitCode, 3);
  // Connecting after the exit gives streams that are already closed.
  const streams = await runtime.connect(id);
  await new Promise<void>((resolve) => streams.onClose(resolve));
  const exitJson = JSON.parse(readFileSync(path.join(fx.stateDir(id), 'exit.json'), 'utf8'));
  assert.equal(exitJson.exitCode, 3);
  await runtime.delete(id);
});

test('SIGKILL of a sleeping container (pid 1 of its namespace) gives 137', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['sleep', '100']));
  await runtime.start(id);
  const waiting = runtime.wait(id);
  await runtime.kill(id, 'SIGKILL');
  assert.is((await waiting).exitCode, 137);
  await runtime.kill(id, 'SIGKILL'); // already gone: not an error
  await runtime.delete(id);
});

test('SIGTERM of a container without a pid namespace gives 143', async () => {
  // As pid 1 of its own namespace, sleep would ignore SIGTERM (no handler); here it is not.
  const id = fx.newId();
  await runtime.create(fx.request(id, ['sleep', '100'], { pidNamespace: false }));
  await runtime.start(id);
  await runtime.kill(id, 'TERM');
  assert.is((await runtime.wait(id)).exitCode, 143);
  await runtime.delete(id);
});

test("a command not found fails at create with runc's message and leaves nothing", async () => {
  const id = fx.newId();
  try {
    await runtime.create(fx.request(id, ['nosuchcmd']));
    assert.unreachable('create must fail');
  } catch (err) {
    assert.ok(isBerthError(err, 'InvalidArgument'), String(err));
    const message = (err as Error).message;
    assert.match(message, /^OCI runtime create failed: /);
    assert.ok(message.includes('exec: "nosuchcmd": executable file not found in $PATH'), message);
  }
  assert.equal(await shimsLeft(id), []);
  assert.not.ok(existsSync(path.join(fx.dir, 'exec', 'state', id)), 'runc state left behind');
  assert.equal(cgroupDirs(id), [], 'cgroup left behind');
  assert.not.ok(existsSync(path.join(fx.stateDir(id), 'shim.sock')));
  assert.not.ok(existsSync(path.join(fx.stateDir(id), 'pid')));
  assert.throws(
    () => runtime.wait(id),
    (e: unknown) => isBerthError(e, 'NotFound'),
  );
});

test('stdin frames reach the container; closing stdin ends cat', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['cat'], { openStdin: true }));
  const streams = await runtime.connect(id);
  const out = collect(streams);
  await runtime.start(id);
  streams.writeStdin(Buffer.from('abc\n'));
  streams.writeStdin(Buffer.from('def'));
  streams.closeStdin();
  const status = await runtime.wait(id);
  await out.closed;
  assert.is(status.exitCode, 0);
  assert.is(out.stdout(), 'abc\ndef');
  await runtime.delete(id);
});

test('two clients both receive the output', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['sh', '-c', 'echo one; echo two']));
  const a = collect(await runtime.connect(id));
  const b = collect(await runtime.connect(id));
  await runtime.start(id);
  await runtime.wait(id);
  await Promise.all([a.closed, b.closed]);
  assert.is(a.stdout(), 'one\ntwo\n');
  assert.is(b.stdout(), 'one\ntwo\n');
  await runtime.delete(id);
});

test('the json-file log: one entry per line, escaped, long lines split at 16 KiB', async () => {
  const id = fx.newId();
  const script = [
    "printf 'plain\\n'",
    "printf 'quote\" back\\\\ tab\\t bell\\a\\n' >&2",
    "printf 'bad\\377utf8 \\303\\251\\n'",
    'head -c 20000 /dev/zero | tr "\\0" b',
    "printf '\\nno newline at end'",
  ].join('; ');
  await runtime.create(fx.request(id, ['sh', '-c', script]));
  const before = Date.now();
  await runtime.start(id);
  await runtime.wait(id);
  const lines = readFileSync(fx.logPath(id), 'utf8').split('\n');
  assert.is(lines.pop(), '');
  const entries = lines.map((l) => JSON.parse(l) as { log: string; stream: string; time: string });
  for (const e of entries) {
    assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    const at = Date.parse(e.time);
    assert.ok(at >= before - 1000 && at <= Date.now() + 1000, `${e.time} is not now`);
  }
  const byStream = (s: string) => entries.filter((e) => e.stream === s).map((e) => e.log);
  assert.equal(byStream('stderr'), ['quote" back\\ tab\t bell\u0007\n']);
  assert.equal(byStream('stdout'), [
    'plain\n',
    'bad\ufffdutf8 é\n',
    'b'.repeat(16384),
    `${'b'.repeat(20000 - 16384)}\n`,
    'no newline at end',
  ]);
  assert.ok(
    lines.some((l) => l.includes('bell\\u0007')),
    'control characters are \\u escaped',
  );
  await runtime.delete(id);
});

test('delete is idempotent and accepts unknown ids', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['sleep', '100']));
  await runtime.delete(id); // a created, never started container
  await runtime.delete(id);
  await runtime.delete(`${id}-unknown`);
  assert.equal(await shimsLeft(id), []);
  assert.equal(cgroupDirs(id), []);
  assert.not.ok(existsSync(path.join(fx.dir, 'exec', 'state', id)));
});

test('oomKilled is true when the memory limit is exceeded', async () => {
  const id = fx.newId();
  await runtime.create(
    fx.request(id, ['sh', '-c', 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived'], { memoryLimit: 16 << 20 }),
  );
  await runtime.start(id);
  const status = await runtime.wait(id);
  assert.is(status.oomKilled, true);
  assert.is(status.exitCode, 137);
  await runtime.delete(id);
  assert.equal(cgroupDirs(id), []);
});

test('a container that exits normally is not oomKilled even with a limit', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['true'], { memoryLimit: 16 << 20 }));
  await runtime.start(id);
  const status = await runtime.wait(id);
  assert.is(status.oomKilled, false);
  assert.is(status.exitCode, 0);
  await runtime.delete(id);
});

test('5 MB of output arrives intact through connect and in the log', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['sh', '-c', 'head -c 5000000 /dev/zero | tr "\\0" x; echo']));
  const streams = await runtime.connect(id);
  let bytes = 0;
  let bad = 0;
  streams.onOutput((c) => {
    bytes += c.data.length;
    for (const b of c.data) if (b !== 0x78 && b !== 0x0a) bad++;
  });
  const closed = new Promise<void>((resolve) => streams.onClose(resolve));
  await runtime.start(id);
  assert.is((await runtime.wait(id)).exitCode, 0);
  await closed;
  assert.is(bytes, 5_000_001);
  assert.is(bad, 0);
  const entries = readFileSync(fx.logPath(id), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { log: string });
  assert.is(
    entries.reduce((n, e) => n + e.log.length, 0),
    5_000_001,
  );
  assert.is(entries.length, Math.ceil(5_000_000 / 16384));
  await runtime.delete(id);
});

test('log rotation: the shim keeps <log> and <log>.1 .. .N-1 each within max-size, the lines in order across them', async () => {
  const id = fx.newId();
  const req = {
    ...fx.request(id, ['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done']),
    log: { format: 'json-file' as const, path: fx.logPath(id), rotation: { maxSize: 64 * 1024, maxFiles: 3 } },
  };
  await runtime.create(req);
  await runtime.connect(id);
  await runtime.start(id);
  assert.is((await runtime.wait(id)).exitCode, 0);
  const files = [`${req.log.path}.2`, `${req.log.path}.1`, req.log.path];
  for (const f of files) assert.ok(statSync(f).size <= 64 * 1024, `${f} is ${statSync(f).size} bytes`);
  assert.not.ok(existsSync(`${req.log.path}.3`));
  const numbers = files
    .flatMap((f) => readFileSync(f, 'utf8').trimEnd().split('\n'))
    .map((l) => Number((JSON.parse(l) as { log: string }).log.trim().slice(5)));
  // The oldest lines were dropped; what is kept is the newest, contiguous and in order.
  assert.is(numbers[numbers.length - 1], 19999);
  for (let i = 1; i < numbers.length; i++) assert.is(numbers[i], numbers[i - 1]! + 1);
  assert.ok(numbers[0]! > 0);
  await runtime.delete(id);
});

test('without a log nothing is logged; output still reaches clients', async () => {
  const id = fx.newId();
  const { log, ...req } = fx.request(id, ['echo', 'unlogged']);
  await runtime.create(req);
  const out = collect(await runtime.connect(id));
  await runtime.start(id);
  assert.is((await runtime.wait(id)).exitCode, 0);
  assert.is(out.stdout(), 'unlogged\n');
  assert.not.ok(existsSync(log.path));
  await runtime.delete(id);
});

test('a background child holding stdout does not hold back the exit: wait resolves while it still runs', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['sh', '-c', 'sleep 30 & echo bye'], { pidNamespace: false }));
  const out = collect(await runtime.connect(id));
  await runtime.start(id);
  const status = await runtime.wait(id);
  assert.is(status.exitCode, 0);
  assert.is(out.stdout(), 'bye\n');
  // The exit was recorded while the sleep, which holds stdout open, still ran (it would
  // run for 30 s): the shim stops waiting for the output's end after a short grace.
  const procs = cgroupDirs(id).flatMap((dir) => readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean));
  const comms = [...new Set(procs)].map((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
  assert.ok(comms.includes('sleep'), `processes left in the container's cgroup: ${comms.join(', ') || 'none'}`);
  await runtime.delete(id);
  assert.equal(cgroupDirs(id), [], 'the background sleep was killed with the cgroup');
});

test.run();

/** The freezer's state of a container's cgroup: v1 `freezer.state`, v2 `cgroup.freeze` (1 frozen). */
function frozen(id: string): boolean {
  for (const dir of cgroupDirs(id)) {
    if (existsSync(path.join(dir, 'freezer.state'))) return readFileSync(path.join(dir, 'freezer.state'), 'utf8').trim() === 'FROZEN';
    if (existsSync(path.join(dir, 'cgroup.freeze'))) return readFileSync(path.join(dir, 'cgroup.freeze'), 'utf8').trim() === '1';
  }
  throw new Error(`no freezer for container ${id}`);
}

test('pause freezes the cgroup and resume thaws it; a SIGKILL sent while paused lands at resume', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['sleep', '100']));
  try {
    await runtime.start(id);
    await runtime.pause(id);
    assert.ok(frozen(id), 'frozen after pause');
    await runtime.resume(id);
    assert.not.ok(frozen(id), 'thawed after resume');
    await runtime.pause(id);
    const waiting = runtime.wait(id);
    await runtime.kill(id, 'SIGKILL');
    // runc thaws a frozen container itself for SIGKILL; a resume after it finds it not paused.
    await runtime.resume(id).catch((err) => assert.ok(isBerthError(err, 'Conflict'), String(err)));
    assert.is((await waiting).exitCode, 137);
    try {
      await runtime.pause(id);
      assert.unreachable('pausing an exited container must fail');
    } catch (err) {
      assert.ok(isBerthError(err, 'Conflict'), String(err));
    }
  } finally {
    await runtime.kill(id, 'SIGKILL').catch(() => undefined);
    await runtime.delete(id);
  }
});

test('update changes the memory and pids limits of a running container', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['sleep', '100']));
  try {
    await runtime.start(id);
    await runtime.update(id, { memory: { limit: 64 * 1024 * 1024, swap: 128 * 1024 * 1024 }, pids: { limit: 50 } });
    const dirs = cgroupDirs(id);
    const read = (file: string) => {
      const dir = dirs.find((d) => existsSync(path.join(d, file)));
      return dir ? readFileSync(path.join(dir, file), 'utf8').trim() : undefined;
    };
    assert.is(read('memory.limit_in_bytes') ?? read('memory.max'), String(64 * 1024 * 1024));
    assert.is(read('pids.max'), '50');
  } finally {
    await runtime.kill(id, 'SIGKILL').catch(() => undefined);
    await runtime.wait(id).catch(() => undefined);
    await runtime.delete(id);
  }
});
