import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type DriverVolume, isBerthError } from '@berth/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { VolumeCase, type VolumeDriverFactory } from './volume-case.js';

/** Options of `volumeDriverSuite`. */
export interface VolumeDriverSuiteOptions {
  /** Options every volume of the suite is created with (valid ones: `{ size: '16M' }`); default `{}`. */
  createOptions?: Readonly<Record<string, string>>;
  /**
   * Options the driver must refuse, each with the word its `InvalidArgument` must name
   * (the option's key). Default: one unknown key, `conformance-unknown-option`.
   */
  badOptions?: ReadonlyArray<{ readonly options: Readonly<Record<string, string>>; readonly names: string }>;
  /**
   * Whether `remove` of a mounted volume is refused with `Conflict` (default true). A
   * driver whose `mount` makes nothing that a delete could go through (a plain
   * directory) may set false: the engine refuses to remove a volume in use before it
   * asks the driver.
   */
  refusesRemoveWhileMounted?: boolean;
  /** Whether volumes outlive the driver instance, seen by a new one over the same state (default true). */
  persistent?: boolean;
  /** Releases what the driver holds outside the case's directory (loop devices), after each case, pass or fail. */
  release?: (dir: string) => Promise<void>;
  /** Prefix of each case's directory, as `fs.mkdtemp` takes it; default `<tmpdir>/berth-volume-conformance-`. */
  tempPrefix?: string;
  /** Each case's time limit under berth's test runner (`@berth/testkit/timeout`), default 30 s. */
  caseTimeoutMs?: number;
}

/** The key berth's test runner reads for a suite's time limit (`@berth/testkit/timeout`); no import needed. */
const TIMEOUT_KEY = Symbol.for('berth.test-timeout');

/**
 * Registers a uvu suite `volume driver <name>` of conformance cases and runs it. Each
 * case gets an empty directory; `makeDriver(<dir>/state)` makes the driver (again, over
 * the same state, for the crash-safety cases). After each case, pass or fail, the suite
 * unmounts what the case mounted and removes every volume through the driver, fails
 * the case if a mount remains under the directory, calls `release`, and deletes it.
 *
 * Errors are compared by kind (`isBerthError(err, 'NotFound')`), so a driver built on
 * another copy of `@berth/core`, or an adapter over a socket, passes.
 */
export function volumeDriverSuite(name: string, makeDriver: VolumeDriverFactory, options: VolumeDriverSuiteOptions = {}): void {
  const tempPrefix = options.tempPrefix ?? path.join(os.tmpdir(), 'berth-volume-conformance-');
  const createOptions = options.createOptions ?? {};
  const badOptions = options.badOptions ?? [{ options: { 'conformance-unknown-option': 'x' }, names: 'conformance-unknown-option' }];
  const refusesRemoveWhileMounted = options.refusesRemoveWhileMounted ?? true;
  const persistent = options.persistent ?? true;
  const test = suite(`volume driver ${name}`);
  Object.defineProperty(test, TIMEOUT_KEY, { value: options.caseTimeoutMs ?? 30_000, configurable: true, writable: true });

  const check = (title: string, body: (c: VolumeCase) => Promise<void>) =>
    test(title, async () => {
      const dir = await fs.mkdtemp(tempPrefix);
      const c = new VolumeCase(dir, makeDriver);
      let failure: unknown;
      try {
        await c.restart();
        await body(c);
      } catch (err) {
        failure = err;
      }
      const problems = await c.cleanup(options.release);
      if (failure) throw failure;
      if (problems.length > 0) assert.unreachable(`cleanup: ${problems.join('; ')}`);
    });

  const create = (c: VolumeCase, volume: string) => c.driver.create(volume, createOptions);

  check('create returns the volume; get returns it; list has it once', async (c) => {
    const made = await create(c, 'alpha');
    assert.is(made.name, 'alpha');
    assert.is((await c.driver.get('alpha')).name, 'alpha');
    assert.equal(namesOf(await c.driver.list()), ['alpha']);
    await create(c, 'beta');
    assert.equal(namesOf(await c.driver.list()), ['alpha', 'beta']);
  });

  check('mount returns an absolute, writable directory; data written there is read after unmount and mount', async (c) => {
    await create(c, 'data');
    const first = await c.mount('data');
    assert.ok(path.isAbsolute(first), `mount returned ${first}`);
    assert.ok((await fs.stat(first)).isDirectory(), `${first} is not a directory`);
    await fs.writeFile(path.join(first, 'hello.txt'), 'hello');
    await fs.mkdir(path.join(first, 'sub'));
    await fs.writeFile(path.join(first, 'sub', 'nested.txt'), 'nested');
    await c.unmount('data');
    const again = await c.mount('data');
    assert.is(await fs.readFile(path.join(again, 'hello.txt'), 'utf8'), 'hello');
    assert.is(await fs.readFile(path.join(again, 'sub', 'nested.txt'), 'utf8'), 'nested');
    await c.unmount('data');
  });

  check('create twice with the same options returns the volume again and keeps its content', async (c) => {
    await create(c, 'twice');
    const where = await c.mount('twice');
    await fs.writeFile(path.join(where, 'kept.txt'), 'kept');
    await c.unmount('twice');
    const again = await create(c, 'twice');
    assert.is(again.name, 'twice');
    assert.equal(namesOf(await c.driver.list()), ['twice']);
    assert.is(await fs.readFile(path.join(await c.mount('twice'), 'kept.txt'), 'utf8'), 'kept');
  });

  check(
    'mount after a lost mount (called again without an unmount) returns the same path with the data; one unmount ends it',
    async (c) => {
      await create(c, 'lost');
      const ctx = c.context();
      const first = await c.mount('lost', ctx);
      await fs.writeFile(path.join(first, 'f'), 'x');
      const second = await c.mount('lost', ctx);
      assert.is(second, first);
      assert.is(await fs.readFile(path.join(second, 'f'), 'utf8'), 'x');
      await c.unmount('lost', ctx);
      await c.driver.remove('lost');
      await expectError(c.driver.get('lost'), 'NotFound', 'get after remove');
    },
  );

  check('unknown names: get, mount, unmount and remove are NotFound', async (c) => {
    await expectError(c.driver.get('nosuch'), 'NotFound', 'get');
    await expectError(c.driver.mount('nosuch', c.context()), 'NotFound', 'mount');
    await expectError(c.driver.unmount('nosuch', c.context()), 'NotFound', 'unmount');
    await expectError(c.driver.remove('nosuch'), 'NotFound', 'remove');
    assert.equal(namesOf(await c.driver.list()), []);
  });

  check('bad options are InvalidArgument naming the option, and nothing is created', async (c) => {
    for (const bad of badOptions) {
      const err = await expectError(
        c.driver.create('refused', { ...createOptions, ...bad.options }),
        'InvalidArgument',
        `create with ${JSON.stringify(bad.options)}`,
      );
      assert.ok(err.message.includes(bad.names), `the error "${err.message}" does not name ${bad.names}`);
      await expectError(c.driver.get('refused'), 'NotFound', `get after a refused create with ${JSON.stringify(bad.options)}`);
      assert.equal(namesOf(await c.driver.list()), [], `list after a refused create with ${JSON.stringify(bad.options)}`);
    }
  });

  check('names with / or .. are InvalidArgument, and nothing is created', async (c) => {
    for (const bad of ['a/b', '..', '../escape', '/abs']) {
      await expectError(c.driver.create(bad, createOptions), 'InvalidArgument', `create ${JSON.stringify(bad)}`);
    }
    assert.equal(namesOf(await c.driver.list()), []);
  });

  if (refusesRemoveWhileMounted) {
    check('remove while mounted is Conflict and keeps the volume and its data; after unmount it removes', async (c) => {
      await create(c, 'busy');
      const where = await c.mount('busy');
      await fs.writeFile(path.join(where, 'f'), 'still here');
      await expectError(c.driver.remove('busy'), 'Conflict', 'remove while mounted');
      assert.equal(namesOf(await c.driver.list()), ['busy']);
      assert.is(await fs.readFile(path.join(where, 'f'), 'utf8'), 'still here');
      await c.unmount('busy');
      await c.driver.remove('busy');
      await expectError(c.driver.get('busy'), 'NotFound', 'get after remove');
    });
  }

  check('remove forgets the volume: a new one of the same name starts empty', async (c) => {
    await create(c, 'again');
    await fs.writeFile(path.join(await c.mount('again'), 'old.txt'), 'old');
    await c.unmount('again');
    await c.driver.remove('again');
    await expectError(c.driver.get('again'), 'NotFound', 'get after remove');
    assert.equal(namesOf(await c.driver.list()), []);
    await create(c, 'again');
    assert.equal(await fs.readdir(await c.mount('again')).then((l) => l.filter((n) => n !== 'lost+found')), []);
  });

  check('concurrent creates of one name make one volume; of many names, each', async (c) => {
    const one = await Promise.all(Array.from({ length: 8 }, () => create(c, 'shared')));
    assert.ok(one.every((v) => v.name === 'shared'));
    assert.equal(namesOf(await c.driver.list()), ['shared']);
    const names = Array.from({ length: 6 }, (_, i) => `many-${i}`);
    await Promise.all(names.map((n) => create(c, n)));
    assert.equal(namesOf(await c.driver.list()), [...names, 'shared'].sort());
  });

  check('concurrent mounts of one name give one path; of many names, a path each; all unmount', async (c) => {
    await create(c, 'one');
    const ctx = c.context();
    const paths = await Promise.all(Array.from({ length: 4 }, () => c.mount('one', ctx)));
    assert.is(new Set(paths).size, 1, `paths: ${paths.join(', ')}`);
    await fs.writeFile(path.join(paths[0]!, 'f'), 'one');
    await c.unmount('one', ctx);
    const names = Array.from({ length: 4 }, (_, i) => `par-${i}`);
    await Promise.all(names.map((n) => create(c, n)));
    const where = await Promise.all(names.map((n) => c.mount(n)));
    assert.is(new Set(where).size, names.length, `paths: ${where.join(', ')}`);
    await Promise.all(names.map((n, i) => fs.writeFile(path.join(where[i]!, 'own'), n)));
    for (const [i, n] of names.entries()) assert.is(await fs.readFile(path.join(where[i]!, 'own'), 'utf8'), n);
    await Promise.all(names.map((n) => c.unmount(n)));
    await Promise.all(names.map((n) => c.driver.remove(n)));
    assert.equal(namesOf(await c.driver.list()), ['one']);
  });

  if (persistent) {
    check(
      'crash safety: a new driver over the same state sees the volumes, and a mount the old one held is made again with its data',
      async (c) => {
        await create(c, 'kept');
        await create(c, 'idle');
        const ctx = c.context();
        await fs.writeFile(path.join(await c.mount('kept', ctx), 'f'), 'survives');
        const fresh = await c.restart();
        assert.equal(namesOf(await fresh.list()), ['idle', 'kept']);
        assert.is((await fresh.get('kept')).name, 'kept');
        // What the engine does after its crash: mount again what its records say was in use.
        const where = await c.mount('kept', ctx);
        assert.is(await fs.readFile(path.join(where, 'f'), 'utf8'), 'survives');
        await c.unmount('kept', ctx);
        await fresh.remove('kept');
        await expectError(fresh.get('kept'), 'NotFound', 'get after remove');
        // And a third instance agrees.
        assert.equal(namesOf(await (await c.restart()).list()), ['idle']);
      },
    );
  }

  test.run();
}

function namesOf(volumes: DriverVolume[]): string[] {
  return volumes.map((v) => v.name).sort();
}

/** Awaits `promise`, which must reject with a berth error of `code`; returns the error. */
async function expectError(promise: Promise<unknown>, code: 'NotFound' | 'InvalidArgument' | 'Conflict', what: string): Promise<Error> {
  let outcome: unknown;
  try {
    outcome = await promise;
  } catch (err) {
    if (isBerthError(err, code)) return err;
    const e = err as { name?: string; code?: string; message?: string };
    assert.unreachable(`${what}: expected ${code}, got ${e?.name ?? typeof err} (${e?.code ?? 'no code'}): ${e?.message ?? String(err)}`);
  }
  assert.unreachable(`${what}: expected ${code}, but it succeeded with ${JSON.stringify(outcome)}`);
  throw new Error('unreachable');
}
