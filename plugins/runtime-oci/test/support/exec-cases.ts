import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type OciRuntime, runcPlugin } from '../../src/index.js';
import { collect, Fixture, shimPids } from './fixture.js';

/**
 * The exec cases of the runtime contract, registered on uvu's suite of the file that calls
 * this, for execs through runc (`runtime`: `directExec: false`) or direct execs (`direct`:
 * the shim runs the process itself; these bundles have no seccomp profile, so runc's
 * containers allow it). test/exec.test.ts and test/exec-direct.test.ts run them.
 */
export function execCases(mode: 'runtime' | 'direct'): void {
  const fx = new Fixture();
  let runtime: OciRuntime;

  test.before(async () => {
    runtime = (await runcPlugin.init({ ...fx.context(), config: { directExec: mode === 'direct' } })) as OciRuntime;
  });
  test.after(() => fx.cleanup());

  /** A running container (`sleep`) to exec into; stopped and deleted by `done`. */
  async function running(extra: { terminal?: boolean } = {}) {
    const id = fx.newId();
    await runtime.create(fx.request(id, ['sleep', '100'], extra));
    await runtime.start(id);
    return {
      id,
      execDir: (n: string) => path.join(fx.stateDir(id), 'x', n),
      async done() {
        await runtime.kill(id, 'SIGKILL');
        await runtime.wait(id);
        await runtime.delete(id);
      },
    };
  }

  test(`${mode}: an exec runs in the container: its output, stdin and exit code; nothing runs before start`, async () => {
    const c = await running();
    try {
      const proc = await runtime.exec({
        containerId: c.id,
        execId: 'e1',
        stateDir: c.execDir('e1'),
        process: fx.execProcess(c.id, ['sh', '-c', 'cat; echo err >&2; hostname; exit 3']),
        openStdin: true,
        terminal: false,
      });
      // Through the runtime nothing runs before start; a direct exec runs at once, its output
      // kept for this connection (checked below: none of it is lost).
      if (mode === 'runtime') assert.not.ok(existsSync(path.join(c.execDir('e1'), 'pid')), 'nothing runs before start');
      else assert.ok(existsSync(path.join(c.execDir('e1'), 'plan')), 'a direct exec');
      const out = collect(proc.streams);
      const { pid } = await proc.start();
      assert.ok(pid > 1);
      proc.streams.writeStdin(Buffer.from('typed\n'));
      proc.streams.closeStdin();
      const status = await proc.wait();
      await out.closed;
      assert.is(status.exitCode, 3);
      assert.is(out.stdout(), `typed\n${c.id}\n`, 'the exec sees the container UTS namespace');
      assert.is(out.stderr(), 'err\n');
      assert.ok(existsSync(path.join(c.execDir('e1'), 'exit.json')), 'the monitor recorded the exit');
      await runtime.releaseExec(c.id, c.execDir('e1'));
      assert.not.ok(existsSync(c.execDir('e1')), 'releaseExec removes the exec state dir');
      await runtime.releaseExec(c.id, c.execDir('e1')); // idempotent
      const outside = await runtime.releaseExec(c.id, '/tmp').then(
        () => 'removed',
        (err: Error) => err.message,
      );
      assert.match(outside, /not inside container/, 'a dir outside the container state is refused');
    } finally {
      await c.done();
    }
  });

  test(`${mode}: an exec of a missing command fails at start with runc's message, and its monitor records 255`, async () => {
    const c = await running();
    try {
      const proc = await runtime.exec({
        containerId: c.id,
        execId: 'e2',
        stateDir: c.execDir('e2'),
        process: fx.execProcess(c.id, ['nosuchcmd']),
        openStdin: false,
        terminal: false,
      });
      const failed = await proc.start().then(
        () => null,
        (err: Error) => err,
      );
      assert.ok(failed, 'start must fail');
      assert.match(failed!.message, /executable file not found/);
      assert.is((await proc.wait()).exitCode, 255);
    } finally {
      await c.done();
    }
  });

  test(`${mode}: an exec with a terminal: a pty (isatty), resize, raw output; a container with a terminal too`, async () => {
    const c = await running({ terminal: true });
    try {
      const streams = await runtime.connect(c.id);
      await streams.resize(30, 100);
      streams.close();
      const proc = await runtime.exec({
        containerId: c.id,
        execId: 'e3',
        stateDir: c.execDir('e3'),
        process: fx.execProcess(c.id, ['sh', '-c', 'read line; echo "got $line"; test -t 0 && echo tty'], { terminal: true }),
        openStdin: true,
        terminal: true,
      });
      const out = collect(proc.streams);
      await proc.start();
      await proc.streams.resize(40, 120);
      proc.streams.writeStdin(Buffer.from('abc\r'));
      const status = await proc.wait();
      await out.closed;
      assert.is(status.exitCode, 0);
      // The line discipline echoes the input and turns \n into \r\n.
      assert.match(out.stdout(), /got abc\r\ntty\r\n/);
      assert.is(out.stderr(), '');
    } finally {
      await c.done();
    }
  });

  test(`${mode}: an exec outlives its connection: adoptExec finds it running, then its exit; resize without a terminal fails`, async () => {
    const c = await running();
    try {
      const dir = c.execDir('e4');
      const proc = await runtime.exec({
        containerId: c.id,
        execId: 'e4',
        stateDir: dir,
        process: fx.execProcess(c.id, ['sh', '-c', 'sleep 0.5; exit 7']),
        openStdin: false,
        terminal: false,
      });
      const { pid } = await proc.start();
      await proc.streams.resize(10, 10).then(
        () => assert.unreachable('resize must fail without a terminal'),
        (err: Error) => assert.match(err.message, /no terminal/),
      );
      proc.streams.close(); // as a daemon that stops
      assert.ok(shimPids(c.id).length >= 2, "the exec's shim runs beside the container's");
      const found = await runtime.adoptExec(c.id, 'e4', dir);
      assert.is(found.state, 'running');
      if (found.state !== 'running') return;
      assert.is(found.pid, pid);
      assert.is((await found.process.wait()).exitCode, 7);
      // The exit is told first (its record on the connection), then written to exit.json,
      // then the connection closes: a new adoption after that finds the record.
      await new Promise<void>((resolve) => found.process.streams.onClose(resolve));
      const again = await runtime.adoptExec(c.id, 'e4', dir);
      assert.equal(again.state === 'exited' && again.status.exitCode, 7);
      assert.is(JSON.parse(readFileSync(path.join(dir, 'exit.json'), 'utf8')).exitCode, 7);
    } finally {
      await c.done();
    }
  });

  test(`${mode}: kill signals the exec's process only (137; the container runs on); after the exit it does nothing; a bad signal is refused`, async () => {
    const c = await running();
    try {
      const proc = await runtime.exec({
        containerId: c.id,
        execId: 'e5',
        stateDir: c.execDir('e5'),
        process: fx.execProcess(c.id, ['sleep', '1000']),
        openStdin: false,
        terminal: false,
      });
      await proc.start();
      await proc.kill('nosuch').then(
        () => assert.unreachable('a bad signal must be refused'),
        (err: Error) => assert.is(err.message, 'invalid signal: nosuch'),
      );
      await proc.kill('SIGKILL');
      assert.is((await proc.wait()).exitCode, 137);
      await proc.kill('KILL'); // exited: nothing to signal, no error
      const probe = await runtime.exec({
        containerId: c.id,
        execId: 'e6',
        stateDir: c.execDir('e6'),
        process: fx.execProcess(c.id, ['true']),
        openStdin: false,
        terminal: false,
      });
      await probe.start();
      assert.is((await probe.wait()).exitCode, 0, 'the container still runs execs after one was killed');
    } finally {
      await c.done();
    }
  });

  // A direct exec runs with its monitor (no `start` request): it is never left created.
  if (mode === 'runtime')
    test(`${mode}: an exec left created (never started) is discarded by kill: nothing runs, its monitor records 255 and ends`, async () => {
      const c = await running();
      try {
        const dir = c.execDir('e7');
        const proc = await runtime.exec({
          containerId: c.id,
          execId: 'e7',
          stateDir: dir,
          process: fx.execProcess(c.id, ['sh', '-c', 'echo ran']),
          openStdin: false,
          terminal: false,
        });
        proc.streams.close(); // a daemon that died between exec and start
        const found = await runtime.adoptExec(c.id, 'e7', dir);
        assert.is(found.state, 'created');
        if (found.state !== 'created') return;
        await found.process.kill('SIGKILL');
        assert.is((await found.process.wait()).exitCode, 255);
        assert.is(recordedPid(dir), '', 'nothing ran');
        for (let i = 0; i < 100 && existsSync(path.join(dir, 'shim.pid')); i++) await new Promise((r) => setTimeout(r, 20));
        assert.not.ok(existsSync(path.join(dir, 'shim.pid')), "the exec's shim ended");
      } finally {
        await c.done();
      }
    });
}

/** The pid an exec's monitor recorded in its state dir (its `pid` file, made empty by a monitor that waits for its start): '' for none. */
function recordedPid(dir: string): string {
  const file = path.join(dir, 'pid');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
}
