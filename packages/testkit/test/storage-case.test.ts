import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { Conflict, NotFound, type StorageDriver } from '@berth/core';
import { rejectsWith, rejectsWithCode, runStorageCase } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const prefix = '/tmp/berth-unit-testkit-';
const mountedUnder = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir}/`);
let closed = 0;
/** A stand-in driver: the harness is under test here, not a driver. Its "snapshot" is a real tmpfs. */
const stubDriver = async () =>
  ({
    name: 'stub',
    prepare: async () => [{ type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }],
    close: async () => {
      closed++;
    },
  }) as unknown as StorageDriver;

test('a case that fails still unmounts, closes the driver and removes its directory', async () => {
  let dir = '';
  closed = 0;
  const failure = new Error('the body failed');
  const outcome = await runStorageCase(prefix, stubDriver, async (c) => {
    dir = c.dir;
    const target = await c.mount(await c.driver.prepare('x'));
    await fs.writeFile(`${target}/file`, 'x');
    assert.ok(mountedUnder(dir), 'the mount did not happen');
    throw failure;
  }).catch((err: unknown) => err);
  assert.is(outcome, failure);
  assert.ok(dir.startsWith(prefix));
  assert.not.ok(mountedUnder(dir), 'a mount was left behind');
  assert.not.ok(existsSync(dir), 'the directory was left behind');
  assert.is(closed, 1);
});

test('reopen closes the driver and builds a new one on the same root', async () => {
  closed = 0;
  await runStorageCase(prefix, stubDriver, async (c) => {
    const first = c.driver;
    const second = await c.reopen();
    assert.is.not(second, first);
    assert.is(c.driver, second);
    assert.is(closed, 1);
  });
  assert.is(closed, 2);
});

test('a factory that throws fails the case and leaves nothing', async () => {
  const before = (await fs.readdir('/tmp')).filter((n) => n.startsWith('berth-unit-testkit-'));
  const err = await runStorageCase(
    prefix,
    async () => {
      throw new Error('no driver here');
    },
    async () => {},
  ).catch((e: unknown) => e);
  assert.match(String(err), /no driver here/);
  assert.equal(
    (await fs.readdir('/tmp')).filter((n) => n.startsWith('berth-unit-testkit-')),
    before,
  );
});

test('rejectsWith checks the error class by name and the message', async () => {
  await rejectsWith(Promise.reject(new NotFound('no such snapshot: x')), 'NotFound', /x/);
  await rejectsWith(rejectsWith(Promise.reject(new Conflict('taken')), 'NotFound'), 'Assertion');
  await rejectsWith(rejectsWith(Promise.resolve(1), 'NotFound'), 'Assertion');
  await rejectsWith(
    rejectsWithCode(() => Promise.resolve(), 'EROFS'),
    'Assertion',
  );
  await rejectsWithCode(() => fs.readFile('/nonexistent/bsto'), 'ENOENT');
});

test.run();
