import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Conflict, type EngineEvent, EventBus, InvalidArgument, NotFound, statusOf } from '../src/index.js';

test('errors carry their API status', () => {
  assert.is(new NotFound('no such container: x').status, 404);
  assert.is(new Conflict('c').status, 409);
  assert.is(new InvalidArgument('i').status, 400);
  assert.is(statusOf(new Error('plain')), 500);
  assert.is(new NotFound('n').name, 'NotFound');
});

test('publish emits under the specific key and the catch-all, in time order', () => {
  const bus = new EventBus();
  const all: EngineEvent[] = [];
  const starts: EngineEvent[] = [];
  bus.on('event', (e) => all.push(e));
  bus.on('container.start', (e) => starts.push(e));
  bus.publish('container', 'start', 'abc', { name: 'web' });
  bus.publish('container', 'die', 'abc', { exitCode: '3' });
  assert.is(all.length, 2);
  assert.is(starts.length, 1);
  assert.is(starts[0].attributes.name, 'web');
  assert.ok(all[1].timeNano > all[0].timeNano);
});

test.run();
