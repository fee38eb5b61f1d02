import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ContainerLocks } from '../src/containers/container-locks.js';

const tick = () => new Promise((r) => setImmediate(r));

test('operations on one container run one at a time, in order, each after the previous settled', async () => {
  const locks = new ContainerLocks();
  const order: string[] = [];
  let release!: () => void;
  const first = locks.run('a', () => new Promise<void>((r) => (release = r)).then(() => order.push('first')));
  const second = locks.run('a', () => order.push('second'));
  await tick();
  assert.equal(order, [], 'the second waits for the first');
  assert.ok(locks.busy('a'));
  release();
  await Promise.all([first, second]);
  assert.equal(order, ['first', 'second']);
});

test('a failed operation releases the lock and keeps its own error; other containers never wait', async () => {
  const locks = new ContainerLocks();
  let release!: () => void;
  const held = locks.run('a', () => new Promise<void>((r) => (release = r)));
  assert.is(await locks.run('b', () => 'b ran'), 'b ran');
  const failing = locks.run('a', () => {
    throw new Error('boom');
  });
  const after = locks.run('a', () => 'after');
  release();
  await held;
  const err = await failing.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.match(String(err), /boom/);
  assert.is(await after, 'after');
});

test('an idle container holds no lock entry', async () => {
  const locks = new ContainerLocks();
  await locks.run('a', async () => undefined);
  await tick();
  assert.not.ok(locks.busy('a'));
});

test.run();
