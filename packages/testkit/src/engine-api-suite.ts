import { randomBytes } from 'node:crypto';
import { type ContainerCreateBody, type EngineApi, type EngineEvent, statusOf } from '@berth/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rejectsWith } from './expect-error.js';

/** What an EngineApi factory gives the suite: the engine, and how to let go of it. */
export interface EngineApiUnderTest {
  /** An engine that has the busybox image (under `EngineApiSuiteOptions.image`). */
  engine: EngineApi;
  /** Releases the engine and whatever it holds (data root, mounts, cgroups); called once, after the last case, even when one failed. */
  cleanup(): Promise<void>;
}

/** Builds the engine under test; called once, before the first case. */
export type EngineApiFactory = () => Promise<EngineApiUnderTest>;

/** Options of `engineApiSuite`. */
export interface EngineApiSuiteOptions {
  /** The reference of the busybox image the factory's engine has (default `busybox`). */
  image?: string;
  /** Prefix of the suite's container names and image tags (default `berth-unit-api-`), so a leak is easy to trace. */
  namePrefix?: string;
}

/** One case's view: the engine, and a create that removes what it made when the case ends. */
interface ApiCase {
  engine: EngineApi;
  image: string;
  /** A unique name for this case (`<prefix><random>-<suffix>`). */
  name(suffix: string): string;
  /** `containers.create`, remembered for removal (forced) at the end of the case. */
  create(body: Omit<ContainerCreateBody, 'Image'> & { Image?: string }, name?: string): Promise<string>;
  /** Tags made by the case, removed at its end (added by `tag`). */
  tag(repo: string, tag: string): Promise<string>;
  /** Every event the engine publishes from now on about container `id`, as `action` names. */
  recordEvents(id?: string): { actions: string[]; events: EngineEvent[]; stop(): void };
}

/** `sh -c script`, which the real busybox and the fake engine's script language both run. */
const sh = (script: string) => ['sh', '-c', script];

/**
 * The shared contract of an `EngineApi`: what the HTTP layer and the docker CLI rely on,
 * and so what the real engine (`@berth/engine`) and any stand-in for it (the API's fake
 * engine) must both do, driven through the interface directly, without HTTP. Registers
 * one uvu suite named `EngineApi <name>` and runs it.
 *
 * Lifecycle: `factory()` once before the first case; every case creates containers with
 * names of its own and removes them (forced) when it ends, failed or not; after the last
 * case the suite checks that none of its containers is left, then calls `cleanup()`.
 *
 * Containers run only what both a real busybox and a scripted fake can run:
 * `sh -c '...'` with `echo WORDS [>&2]`, `exit N`, `sleep N`, `sleep N & wait` (a sleep a
 * trapped signal interrupts: a real shell runs a trap only between commands),
 * `trap "exit N" SIGNAL`, and `cat`. Their main process is PID 1 of its namespace, so a
 * signal it has no trap for is ignored, except SIGKILL.
 *
 * ```ts
 * import { engineApiSuite } from '@berth/testkit';
 * engineApiSuite('fake', async () => ({ engine: new FakeEngine(), cleanup: async () => {} }));
 * ```
 */
export function engineApiSuite(name: string, factory: EngineApiFactory, options: EngineApiSuiteOptions = {}): void {
  const image = options.image ?? 'busybox';
  const prefix = options.namePrefix ?? 'berth-unit-api-';
  const run = randomBytes(3).toString('hex');
  let under: EngineApiUnderTest | undefined;
  const test = suite(`EngineApi ${name}`);

  test.before(async () => {
    under = await factory();
  });

  test.after(async () => {
    if (!under) return;
    const { engine } = under;
    let leftovers: string[] = [];
    try {
      const mine = await engine.containers.list({ all: true, filters: { name: [`${prefix}${run}-`] } });
      leftovers = mine.map((c) => c.Names[0] ?? c.Id);
      for (const c of mine) await engine.containers.remove(c.Id, { force: true }).catch(() => undefined);
    } finally {
      await under.cleanup();
    }
    assert.equal(leftovers, [], 'every case removed its containers');
  });

  const check = (title: string, body: (c: ApiCase) => Promise<void>) =>
    test(title, async () => {
      if (!under) throw new Error(`the engine of suite ${name} was not built: its factory failed`);
      const { engine } = under;
      const created: string[] = [];
      const tags: string[] = [];
      const recorders: Array<() => void> = [];
      const c: ApiCase = {
        engine,
        image,
        name: (suffix) => `${prefix}${run}-${suffix}`,
        async create(body, containerName) {
          const { Id } = await engine.containers.create({ Image: image, ...body }, containerName);
          created.push(Id);
          return Id;
        },
        async tag(repo, tag) {
          await engine.images.tag(image, repo, tag);
          tags.push(`${repo}:${tag}`);
          return `${repo}:${tag}`;
        },
        recordEvents(id) {
          const events: EngineEvent[] = [];
          const onEvent = (e: EngineEvent) => {
            if (id === undefined || e.id === id) events.push(e);
          };
          engine.events.on('event', onEvent);
          const stop = () => engine.events.off('event', onEvent);
          recorders.push(stop);
          return {
            events,
            stop,
            get actions() {
              return events.map((e) => e.action);
            },
          };
        },
      };
      try {
        await body(c);
      } finally {
        for (const stop of recorders) stop();
        for (const id of created) await engine.containers.remove(id, { force: true }).catch(() => undefined);
        for (const tag of tags) await engine.images.remove(tag).catch(() => undefined);
      }
    });

  // ---- create -------------------------------------------------------------------------

  check('create answers a 64-hex Id; inspect shows it created, with a "/" name and its config', async (c) => {
    const name = c.name('created');
    const id = await c.create({ Cmd: sh('echo hi'), Labels: { suite: 'yes' } }, name);
    assert.match(id, /^[0-9a-f]{64}$/);
    const inspect = await c.engine.containers.inspect(name);
    assert.is(inspect.Id, id);
    assert.is(inspect.Name, `/${name}`);
    assert.is(inspect.State.Status, 'created');
    assert.is(inspect.State.Running, false);
    assert.is(inspect.State.ExitCode, 0);
    assert.is(inspect.Config.Image, c.image);
    assert.equal(inspect.Config.Cmd, sh('echo hi'));
    assert.equal(inspect.Config.Labels, { suite: 'yes' });
    assert.match(inspect.Image, /^sha256:[0-9a-f]{64}$/);
    assert.is((await c.engine.containers.inspect(id.slice(0, 12))).Id, id, 'a unique id prefix names it too');
  });

  check("create with a taken name is a 409 with Docker's message", async (c) => {
    const name = c.name('taken');
    const first = await c.create({ Cmd: sh('exit 0') }, name);
    const err = await rejectsWith(() => c.create({ Cmd: sh('exit 0') }, name), 'Conflict');
    assert.is(statusOf(err), 409);
    assert.is(
      err.message,
      `Conflict. The container name "/${name}" is already in use by container "${first}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
  });

  check('create of an unknown image is a 404 naming it; without an Image a 400', async (c) => {
    const missing = await rejectsWith(() => c.engine.containers.create({ Image: `${c.name('nosuch')}:v1` }), 'NotFound');
    assert.is(statusOf(missing), 404);
    assert.is(missing.message, `No such image: ${c.name('nosuch')}:v1`);
    const noImage = await rejectsWith(() => c.engine.containers.create({ Cmd: ['true'] } as ContainerCreateBody), 'InvalidArgument');
    assert.is(statusOf(noImage), 400);
  });

  // ---- start, wait --------------------------------------------------------------------

  check('wait(next-exit) made before start sees even a fast exit; not-running then answers at once', async (c) => {
    const id = await c.create({ Cmd: sh('exit 3') });
    const waited = c.engine.containers.wait(id, 'next-exit');
    await c.engine.containers.start(id);
    assert.equal(await waited, { StatusCode: 3, Error: null });
    assert.equal(await c.engine.containers.wait(id, 'not-running'), { StatusCode: 3, Error: null });
    assert.equal(await c.engine.containers.wait(id), { StatusCode: 3, Error: null }, 'not-running is the default');
  });

  check('start of a running container is NotModified (304); start of an unknown one NotFound (404)', async (c) => {
    const id = await c.create({ Cmd: sh('sleep 30') });
    await c.engine.containers.start(id);
    const again = await rejectsWith(() => c.engine.containers.start(id), 'NotModified');
    assert.is(statusOf(again), 304);
    const missing = await rejectsWith(() => c.engine.containers.start(c.name('nosuch')), 'NotFound');
    assert.is(statusOf(missing), 404);
    assert.is(missing.message, `No such container: ${c.name('nosuch')}`);
    assert.is((await c.engine.containers.inspect(id)).State.Running, true);
  });

  check('wait(next-exit) on an exited container waits for its next run', async (c) => {
    const id = await c.create({ Cmd: sh('exit 5') });
    const first = c.engine.containers.wait(id, 'next-exit');
    await c.engine.containers.start(id);
    assert.is((await first).StatusCode, 5);
    let settled = false;
    const next = c.engine.containers.wait(id, 'next-exit').then((r) => {
      settled = true;
      return r;
    });
    await delay(100);
    assert.is(settled, false, 'next-exit answered without a new run');
    await c.engine.containers.start(id);
    assert.is((await next).StatusCode, 5);
  });

  check('wait(removed) answers when the container is removed; wait on an unknown container is a 404', async (c) => {
    const id = await c.create({ Cmd: sh('exit 2') });
    const exited = c.engine.containers.wait(id, 'next-exit');
    await c.engine.containers.start(id);
    await exited;
    let settled = false;
    const removed = c.engine.containers.wait(id, 'removed').then((r) => {
      settled = true;
      return r;
    });
    await delay(50);
    assert.is(settled, false, 'removed answered before the removal');
    await c.engine.containers.remove(id);
    assert.equal(await removed, { StatusCode: 2, Error: null });
    const err = await rejectsWith(() => c.engine.containers.wait(c.name('nosuch')), 'NotFound');
    assert.is(statusOf(err), 404);
  });

  // ---- logs, attach -------------------------------------------------------------------

  check('logs split stdout from stderr (a stream left unset is included), each in order', async (c) => {
    const id = await c.create({ Cmd: sh('echo one; echo oops >&2; echo two; echo three; exit 3') });
    const exited = c.engine.containers.wait(id, 'next-exit');
    await c.engine.containers.start(id);
    assert.is((await exited).StatusCode, 3);
    const read = async (options: Parameters<EngineApi['containers']['logs']>[1]) => {
      const { tty, lines } = await c.engine.containers.logs(id, options);
      assert.is(tty, false);
      const out: string[] = [];
      for await (const line of lines) {
        assert.match(line.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/, 'RFC 3339 time with a fraction');
        out.push(`${line.stream}:${line.data.toString()}`);
      }
      return out;
    };
    assert.equal(await read({ stdout: true, stderr: false }), ['stdout:one\n', 'stdout:two\n', 'stdout:three\n']);
    assert.equal(await read({ stdout: false, stderr: true }), ['stderr:oops\n']);
    assert.is((await read({})).length, 4, 'a stream left unset is included');
    const both = await read({ stdout: true, stderr: true });
    assert.equal(both.slice().sort(), ['stderr:oops\n', 'stdout:one\n', 'stdout:three\n', 'stdout:two\n']);
    assert.equal(
      both.filter((l) => l.startsWith('stdout:')),
      ['stdout:one\n', 'stdout:two\n', 'stdout:three\n'],
    );
    assert.equal((await read({ stdout: true, stderr: true, tail: 'all' })).length, 4);
    assert.equal(await read({ stdout: true, stderr: true, tail: 0 }), []);
  });

  check('logs tail counts lines from the end', async (c) => {
    // One stream only: the order of lines across stdout and stderr is not defined (two pipes).
    const id = await c.create({ Cmd: sh('echo one; echo two; echo three') });
    const exited = c.engine.containers.wait(id, 'next-exit');
    await c.engine.containers.start(id);
    await exited;
    const tail = async (n: number | 'all') => {
      const out: string[] = [];
      for await (const line of (await c.engine.containers.logs(id, { stdout: true, stderr: true, tail: n })).lines) {
        out.push(line.data.toString());
      }
      return out;
    };
    assert.equal(await tail(2), ['two\n', 'three\n']);
    assert.equal(await tail(5), ['one\n', 'two\n', 'three\n']);
    assert.equal(await tail(0), []);
  });

  check('an attach session made before start receives all output, then ends', async (c) => {
    const id = await c.create({ Cmd: sh('echo hi; echo oops >&2; exit 3') });
    const session = await c.engine.containers.attach(id, { stdout: true, stderr: true, stream: true });
    assert.is(session.tty, false);
    const out: string[] = [];
    session.onOutput((stream, data) => out.push(`${stream}:${data.toString()}`));
    const exited = c.engine.containers.wait(id, 'next-exit');
    await c.engine.containers.start(id);
    assert.is((await exited).StatusCode, 3);
    await withTimeout(session.ended, 5000, 'the session did not end after the exit');
    assert.equal(out.sort(), ['stderr:oops\n', 'stdout:hi\n']);
  });

  check('attach with stdin feeds cat; closing stdin ends it', async (c) => {
    const id = await c.create({ Cmd: ['cat'], OpenStdin: true, StdinOnce: true, AttachStdin: true });
    const session = await c.engine.containers.attach(id, { stdin: true, stdout: true, stderr: true, stream: true });
    const out: string[] = [];
    session.onOutput((_stream, data) => out.push(data.toString()));
    const exited = c.engine.containers.wait(id, 'next-exit');
    await c.engine.containers.start(id);
    session.writeStdin(Buffer.from('ping\n'));
    session.closeStdin();
    assert.is((await withTimeout(exited, 5000, 'cat did not exit when its stdin closed')).StatusCode, 0);
    await withTimeout(session.ended, 5000, 'the session did not end after the exit');
    assert.is(out.join(''), 'ping\n');
  });

  check('attach with logs and without stream to an exited container replays its log, then ends', async (c) => {
    const id = await c.create({ Cmd: sh('echo logged') });
    const exited = c.engine.containers.wait(id, 'next-exit');
    await c.engine.containers.start(id);
    await exited;
    const session = await c.engine.containers.attach(id, { stdout: true, logs: true, stream: false });
    const out: string[] = [];
    session.onOutput((_stream, data) => out.push(data.toString()));
    await withTimeout(session.ended, 5000, 'an attach with logs=1&stream=0 did not end');
    assert.is(out.join(''), 'logged\n');
  });

  check('attach to the stream of an exited container waits for its next run (start -a) and ends with it', async (c) => {
    const id = await c.create({ Cmd: sh('echo run') });
    const first = c.engine.containers.wait(id, 'next-exit');
    await c.engine.containers.start(id);
    await first;
    const session = await c.engine.containers.attach(id, { stdout: true, stream: true });
    const out: string[] = [];
    session.onOutput((_stream, data) => out.push(data.toString()));
    await c.engine.containers.start(id);
    await withTimeout(session.ended, 5000, 'the session did not end with the next run');
    assert.is(out.join(''), 'run\n', 'the next run, not the log of the last');
  });

  // ---- list ---------------------------------------------------------------------------

  check('list shows running containers, all=true the others too, with the fields ps prints', async (c) => {
    const runningName = c.name('ps-running');
    const running = await c.create({ Cmd: sh('sleep 30'), Labels: { role: 'up' } }, runningName);
    const created = await c.create({ Cmd: sh('exit 0'), Labels: { role: 'down' } }, c.name('ps-created'));
    await c.engine.containers.start(running);
    const mine = { name: [`${c.name('ps-')}`] };
    const ids = async (opts: { all?: boolean; filters?: Record<string, string[]> }) =>
      (await c.engine.containers.list({ ...opts, filters: { ...mine, ...opts.filters } })).map((s) => s.Id).sort();
    assert.equal(await ids({}), [running]);
    assert.equal(await ids({ all: true }), [running, created].sort());
    assert.equal(await ids({ all: true, filters: { status: ['created'] } }), [created]);
    assert.equal(await ids({ filters: { status: ['created'] } }), [created], 'a status filter lists stopped containers without all');
    assert.equal(await ids({ all: true, filters: { id: [created.slice(0, 12)] } }), [created]);
    assert.equal(await ids({ all: true, filters: { name: [runningName] } }), [running]);
    assert.equal(await ids({ all: true, filters: { label: ['role=down'] } }), [created]);
    const [summary] = await c.engine.containers.list({ filters: { id: [running] } });
    assert.ok(summary, 'the running container is listed');
    assert.equal(summary!.Names, [`/${runningName}`]);
    assert.is(summary!.Image, c.image);
    assert.is(summary!.State, 'running');
    assert.match(summary!.Status, /^Up /);
    assert.match(summary!.ImageID, /^sha256:[0-9a-f]{64}$/);
    assert.equal(summary!.Labels, { role: 'up' });
    assert.is(typeof summary!.Created, 'number');
    const [stopped] = await c.engine.containers.list({ all: true, filters: { id: [created] } });
    assert.is(stopped!.State, 'created');
    assert.is(stopped!.Status, 'Created');
    await rejectsWith(() => c.engine.containers.list({ filters: { bogus: ['x'] } }), 'InvalidArgument');
  });

  // ---- stop, kill, restart ------------------------------------------------------------

  check('stop: a trapped stop signal ends the container at once; an ignored one waits for the timeout, then SIGKILL', async (c) => {
    const trapped = await c.create({ Cmd: sh('trap "exit 9" TERM; sleep 30 & wait') });
    const stubborn = await c.create({ Cmd: sh('sleep 30') });
    await c.engine.containers.start(trapped);
    await c.engine.containers.start(stubborn);
    // A real shell installs its trap a moment after it starts.
    await delay(300);
    let t = Date.now();
    await c.engine.containers.stop(trapped, 10);
    assert.ok(Date.now() - t < 5000, 'stop waited although the signal ended the container');
    assert.is((await c.engine.containers.inspect(trapped)).State.ExitCode, 9);
    t = Date.now();
    await c.engine.containers.stop(stubborn, 1);
    assert.ok(Date.now() - t >= 900, 'stop did not wait for the timeout');
    const state = (await c.engine.containers.inspect(stubborn)).State;
    assert.equal([state.Status, state.Running, state.ExitCode], ['exited', false, 137]);
    const again = await rejectsWith(() => c.engine.containers.stop(stubborn, 1), 'NotModified');
    assert.is(statusOf(again), 304);
  });

  check('kill takes signal names and numbers; PID 1 ignores one it has no trap for; a bad signal is a 400', async (c) => {
    const id = await c.create({ Cmd: sh('trap "exit 3" HUP; trap "exit 4" USR2; sleep 30 & wait') });
    await c.engine.containers.start(id);
    await delay(300);
    const bad = await rejectsWith(() => c.engine.containers.kill(id, 'SIGNOPE'), 'InvalidArgument');
    assert.is(statusOf(bad), 400);
    const recorded = c.recordEvents(id);
    await c.engine.containers.kill(id, 'USR1');
    await delay(200);
    assert.is((await c.engine.containers.inspect(id)).State.Running, true, 'an untrapped USR1 ended PID 1');
    let exited = c.engine.containers.wait(id, 'next-exit');
    await c.engine.containers.kill(id, '1');
    assert.is((await exited).StatusCode, 3);

    exited = c.engine.containers.wait(id, 'next-exit');
    await c.engine.containers.start(id);
    await delay(300);
    await c.engine.containers.kill(id, 'sigusr2');
    assert.is((await exited).StatusCode, 4);

    exited = c.engine.containers.wait(id, 'next-exit');
    await c.engine.containers.start(id);
    await c.engine.containers.kill(id);
    assert.is((await exited).StatusCode, 137, 'the default signal is SIGKILL');
    const notRunning = await rejectsWith(() => c.engine.containers.kill(id, 'KILL'), 'Conflict');
    assert.is(statusOf(notRunning), 409);
    // The signal is validated before the state: a bad one is a 400 on a stopped container too.
    assert.is(statusOf(await rejectsWith(() => c.engine.containers.kill(id, 'SIGNOPE'), 'InvalidArgument')), 400);
    assert.equal(
      recorded.events.filter((e) => e.action === 'kill').map((e) => e.attributes.signal),
      ['10', '1', '12', '9'],
      'each kill event carries the number of its signal',
    );
  });

  check('restart of a running container stops it with the timeout and starts it; events die, stop, start, restart', async (c) => {
    const id = await c.create({ Cmd: sh('sleep 30') });
    await c.engine.containers.start(id);
    const before = (await c.engine.containers.inspect(id)).State.StartedAt;
    const recorded = c.recordEvents(id);
    const t = Date.now();
    await c.engine.containers.restart(id, 1);
    assert.ok(Date.now() - t >= 900, 'restart did not give the stop its timeout');
    const state = (await c.engine.containers.inspect(id)).State;
    assert.is(state.Running, true);
    assert.ok(state.StartedAt > before, `StartedAt ${state.StartedAt} is not after ${before}`);
    // dockerd's sequence: each signal the stop sends is a `kill` event with the signal's number.
    assert.equal(recorded.actions, ['kill', 'kill', 'die', 'stop', 'start', 'restart']);
    assert.equal(
      recorded.events.filter((e) => e.action === 'kill').map((e) => e.attributes.signal),
      ['15', '9'],
    );
  });

  check('restart of a stopped or created container just starts it; an unknown one is a 404', async (c) => {
    const id = await c.create({ Cmd: sh('sleep 30') });
    const recorded = c.recordEvents(id);
    await c.engine.containers.restart(id, 1);
    assert.is((await c.engine.containers.inspect(id)).State.Running, true);
    assert.equal(recorded.actions, ['start', 'restart']);
    await rejectsWith(() => c.engine.containers.restart(c.name('nosuch')), 'NotFound');
  });

  // ---- remove -------------------------------------------------------------------------

  check("remove of a running container needs force (409 with Docker's message); force kills and removes it", async (c) => {
    const id = await c.create({ Cmd: sh('sleep 30') });
    await c.engine.containers.start(id);
    const err = await rejectsWith(() => c.engine.containers.remove(id), 'Conflict');
    assert.is(statusOf(err), 409);
    assert.is(err.message, `You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`);
    await c.engine.containers.remove(id, { force: true });
    const gone = await rejectsWith(() => c.engine.containers.inspect(id), 'NotFound');
    assert.is(gone.message, `No such container: ${id}`);
    await rejectsWith(() => c.engine.containers.remove(id), 'NotFound');
  });

  // ---- events -------------------------------------------------------------------------

  check("a run publishes Docker's events in Docker's order: create, attach, start, die, destroy", async (c) => {
    const recorded = c.recordEvents();
    const name = c.name('events');
    const id = await c.create({ Cmd: sh('echo hi; exit 1') }, name);
    const session = await c.engine.containers.attach(id, { stdout: true, stderr: true, stream: true });
    const exited = c.engine.containers.wait(id, 'next-exit');
    await c.engine.containers.start(id);
    await exited;
    await withTimeout(session.ended, 5000, 'the session did not end after the exit');
    await c.engine.containers.remove(id);
    const mine = recorded.events.filter((e) => e.id === id);
    assert.equal(
      mine.map((e) => e.action),
      ['create', 'attach', 'start', 'die', 'destroy'],
    );
    for (const e of mine) {
      assert.is(e.type, 'container');
      assert.is(e.attributes.name, name, `${e.action} names the container`);
      assert.is(e.attributes.image, c.image, `${e.action} names the image`);
      assert.is(typeof e.timeNano, 'bigint');
    }
    assert.is(mine.find((e) => e.action === 'die')!.attributes.exitCode, '1');
    for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.timeNano >= mine[i - 1]!.timeNano, 'times go forward');
  });

  // ---- pause, rename, update, top, stats, prune -----------------------------------------

  check(
    'pause and unpause: State.Paused and Status "paused", Docker\'s conflicts, events; rm without -f refused, kill -9 of a paused one works',
    async (c) => {
      const id = await c.create({ Cmd: sh('sleep 30 & wait') }, c.name('paused'));
      const recorded = c.recordEvents(id);
      await rejectsWith(() => c.engine.containers.pause(id), 'Conflict');
      await c.engine.containers.start(id);
      await c.engine.containers.pause(id);
      let state = (await c.engine.containers.inspect(id)).State;
      assert.is(state.Status, 'paused');
      assert.is(state.Paused, true);
      assert.is(state.Running, true);
      const listed = await c.engine.containers.list({ filters: { id: [id] } });
      assert.is(listed[0]?.State, 'paused');
      assert.match(listed[0]?.Status ?? '', /\(Paused\)$/);
      assert.match((await rejectsWith(() => c.engine.containers.pause(id), 'Conflict')).message, /is already paused/);
      assert.match((await rejectsWith(() => c.engine.containers.remove(id), 'Conflict')).message, /paused container/);
      await c.engine.containers.unpause(id);
      state = (await c.engine.containers.inspect(id)).State;
      assert.is(state.Status, 'running');
      assert.is(state.Paused, false);
      assert.match((await rejectsWith(() => c.engine.containers.unpause(id), 'Conflict')).message, /is not paused/);
      await c.engine.containers.pause(id);
      const exited = c.engine.containers.wait(id, 'next-exit');
      await c.engine.containers.kill(id, 'SIGKILL');
      assert.is((await withTimeout(exited, 5000, 'a paused container killed with SIGKILL did not exit')).StatusCode, 137);
      assert.is((await c.engine.containers.inspect(id)).State.Paused, false);
      assert.equal(
        recorded.actions.filter((a) => a === 'pause' || a === 'unpause'),
        ['pause', 'unpause', 'pause'],
      );
    },
  );

  check(
    'rename: the new name finds it, the old one is free at once; a taken name is a Conflict; `rename` event with oldName',
    async (c) => {
      const first = c.name('first');
      const id = await c.create({ Cmd: sh('exit 0') }, first);
      const other = await c.create({ Cmd: sh('exit 0') }, c.name('other'));
      const recorded = c.recordEvents(id);
      const second = c.name('second');
      await c.engine.containers.rename(first, second);
      assert.is((await c.engine.containers.inspect(second)).Id, id);
      assert.is((await c.engine.containers.inspect(id)).Name, `/${second}`);
      await rejectsWith(() => c.engine.containers.inspect(first), 'NotFound');
      const reused = await c.create({ Cmd: sh('exit 0') }, first);
      assert.is.not(reused, id);
      const taken = await rejectsWith(() => c.engine.containers.rename(other, second), 'Conflict');
      assert.match(taken.message, /is already in use/);
      await rejectsWith(() => c.engine.containers.rename(id, 'bad name!'), 'InvalidArgument');
      assert.equal(recorded.actions, ['rename']);
      assert.is(recorded.events[0]!.attributes.oldName, `/${first}`);
      assert.is(recorded.events[0]!.attributes.name, second);
    },
  );

  check('update: a restart policy and limits land in HostConfig; `update` event', async (c) => {
    const id = await c.create({ Cmd: sh('exit 0') }, c.name('update'));
    const recorded = c.recordEvents(id);
    const answer = await c.engine.containers.update(id, {
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
      Memory: 64 * 1024 * 1024,
    });
    assert.ok(answer.Warnings === null || Array.isArray(answer.Warnings));
    const hc = (await c.engine.containers.inspect(id)).HostConfig;
    assert.equal(hc.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.is(hc.Memory, 64 * 1024 * 1024);
    assert.is(hc.LogConfig?.Type, 'json-file', 'inspect names the log driver in use');
    assert.equal(recorded.actions, ['update']);
  });

  check(
    "top lists the processes of a running container with a PID column; stats answer Docker's shape; both name a stopped one",
    async (c) => {
      const id = await c.create({ Cmd: sh('sleep 30 & wait') }, c.name('top'));
      await rejectsWith(() => c.engine.containers.top(id), 'Conflict');
      await c.engine.containers.start(id);
      const top = await c.engine.containers.top(id);
      const pid = top.Titles.indexOf('PID');
      assert.ok(pid >= 0, `no PID in ${JSON.stringify(top.Titles)}`);
      assert.ok(top.Processes.length >= 1, 'at least the main process');
      for (const row of top.Processes) assert.is(row.length, top.Titles.length);
      const samples: Array<import('@berth/core').ContainerStatsSample> = [];
      for await (const s of c.engine.containers.stats(id, { stream: false })) samples.push(s);
      assert.is(samples.length, 1);
      const sample = samples[0]!;
      assert.is(sample.id, id);
      assert.is(typeof sample.cpu_stats.cpu_usage.total_usage, 'number');
      assert.ok((sample.memory_stats.limit ?? 0) > 0, "a memory limit (the host's when none is set)");
      assert.ok((sample.pids_stats.current ?? 0) >= 1, 'pids counted');
      await c.engine.containers.kill(id, 'SIGKILL');
      await c.engine.containers.wait(id, 'not-running');
      const stopped: Array<import('@berth/core').ContainerStatsSample> = [];
      for await (const s of c.engine.containers.stats(id, { stream: false })) stopped.push(s);
      assert.is(stopped[0]!.cpu_stats.cpu_usage.total_usage, 0, "a stopped container's sample is zeroed");
    },
  );

  check(
    'stats without a stream answer with an earlier reading as precpu_stats; one-shot leaves it zeroed; one-shot with a stream is refused',
    async (c) => {
      const id = await c.create({ Cmd: sh('sleep 30 & wait') }, c.name('stats'));
      await c.engine.containers.start(id);
      const one = async (options: import('@berth/core').StatsOptions) => {
        const samples: Array<import('@berth/core').ContainerStatsSample> = [];
        for await (const s of c.engine.containers.stats(id, options)) samples.push(s);
        assert.is(samples.length, 1, 'one sample');
        return samples[0]!;
      };
      // What `docker stats --no-stream` reads: CPU % from cpu_stats against precpu_stats.
      const sample = await one({ stream: false });
      const cpu = sample.cpu_stats;
      const pre = sample.precpu_stats;
      assert.ok((pre.system_cpu_usage ?? 0) > 0, `precpu_stats has the host's CPU time: ${JSON.stringify(pre)}`);
      assert.ok(pre.system_cpu_usage! <= cpu.system_cpu_usage!, 'the earlier reading is not later');
      assert.ok(pre.cpu_usage.total_usage <= cpu.cpu_usage.total_usage, "the container's usage does not go back");
      assert.ok((pre.online_cpus ?? 0) > 0, 'online_cpus, which the percentage is multiplied by');
      const started = Date.parse((await c.engine.containers.inspect(id)).State.StartedAt);
      const preread = Date.parse(sample.preread);
      // Of this run (not the zero time, not the host's boot), and not after the sample.
      assert.ok(
        preread >= started && preread <= Date.parse(sample.read),
        `preread ${sample.preread}, started ${started}, read ${sample.read}`,
      );
      // one-shot: dockerd's single reading, without a previous one.
      const shot = await one({ stream: false, oneShot: true });
      assert.is(shot.preread, '0001-01-01T00:00:00Z');
      assert.is(shot.precpu_stats.cpu_usage.total_usage, 0);
      assert.is(shot.precpu_stats.system_cpu_usage, undefined);
      assert.ok((shot.cpu_stats.system_cpu_usage ?? 0) > 0, 'its own reading is there');
      const refuse = async () => {
        for await (const _ of c.engine.containers.stats(id, { stream: true, oneShot: true })) break;
      };
      await rejectsWith(refuse, 'InvalidArgument', /cannot have stream=true and one-shot=true/);
    },
  );

  check('prune removes the stopped containers that match its label filter and no other', async (c) => {
    const label = c.name('prune');
    const gone = await c.create({ Cmd: sh('exit 0'), Labels: { [label]: 'yes' } }, c.name('prune-gone'));
    const kept = await c.create({ Cmd: sh('exit 0'), Labels: { [label]: 'no' } }, c.name('prune-kept'));
    const running = await c.create({ Cmd: sh('sleep 30 & wait'), Labels: { [label]: 'yes' } }, c.name('prune-running'));
    await c.engine.containers.start(running);
    const report = await c.engine.containers.prune({ label: [`${label}=yes`] });
    assert.equal(report.ContainersDeleted, [gone]);
    assert.is(typeof report.SpaceReclaimed, 'number');
    await rejectsWith(() => c.engine.containers.inspect(gone), 'NotFound');
    assert.is((await c.engine.containers.inspect(kept)).Id, kept);
    assert.is((await c.engine.containers.inspect(running)).State.Running, true);
    await rejectsWith(() => c.engine.containers.prune({ nosuch: ['x'] }), 'InvalidArgument');
  });

  // ---- images -------------------------------------------------------------------------

  check('images: list and inspect agree on the busybox image; an unknown one is a 404', async (c) => {
    const list = await c.engine.images.list();
    const inspect = await c.engine.images.inspect(c.image);
    const listed = list.find((i) => i.Id === inspect.Id);
    assert.ok(listed, `${inspect.Id} is not in the list`);
    assert.match(inspect.Id, /^sha256:[0-9a-f]{64}$/);
    const familiar = c.image.includes(':') ? c.image : `${c.image}:latest`;
    assert.ok(listed!.RepoTags?.includes(familiar), `RepoTags ${JSON.stringify(listed!.RepoTags)} lack ${familiar}`);
    assert.ok(inspect.RepoTags.includes(familiar));
    assert.is(inspect.Os, 'linux');
    assert.is(typeof listed!.Size, 'number');
    assert.is((await c.engine.images.inspect(inspect.Id)).Id, inspect.Id, 'the full id names it');
    const err = await rejectsWith(() => c.engine.images.inspect(`${c.name('nosuch')}:v1`), 'NotFound');
    assert.is(statusOf(err), 404);
  });

  check('images: tag adds a name (docker.io/ prefix dropped); removing that name only untags; by id with two names is a 409', async (c) => {
    const id = (await c.engine.images.inspect(c.image)).Id;
    const recorded = c.recordEvents(id);
    const repo = c.name('tagged');
    await c.tag(`docker.io/library/${repo}`, 'v1');
    const tagged = await c.engine.images.inspect(`${repo}:v1`);
    assert.is(tagged.Id, id);
    assert.ok(tagged.RepoTags.includes(`${repo}:v1`), `RepoTags ${JSON.stringify(tagged.RepoTags)}`);
    const filtered = await c.engine.images.list({ filters: { reference: [`${repo}:v1`] } });
    assert.equal(
      filtered.map((i) => i.Id),
      [id],
    );
    const byId = await rejectsWith(() => c.engine.images.remove(id), 'Conflict');
    assert.is(statusOf(byId), 409);
    assert.equal(await c.engine.images.remove(`${repo}:v1`), [{ Untagged: `${repo}:v1` }]);
    await rejectsWith(() => c.engine.images.inspect(`${repo}:v1`), 'NotFound');
    assert.is((await c.engine.images.inspect(c.image)).Id, id, 'the image itself stays');
    assert.equal(recorded.actions, ['tag', 'untag']);
    assert.is(recorded.events[0]!.attributes.name, `${repo}:v1`);
  });

  test.run();
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `p`, or a rejection saying `what` after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} (after ${ms} ms)`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
