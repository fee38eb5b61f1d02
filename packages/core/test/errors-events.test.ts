import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BerthError,
  Conflict,
  type EngineEvent,
  EventBus,
  InvalidArgument,
  isBerthError,
  isPluginSkipped,
  NotFound,
  NotModified,
  PluginSkipped,
  statusOf,
} from '../src/index.js';

test('errors carry their API status and code', () => {
  assert.is(new NotFound('no such container: x').status, 404);
  assert.is(new Conflict('c').status, 409);
  assert.is(new InvalidArgument('i').status, 400);
  assert.is(statusOf(new Error('plain')), 500);
  assert.is(new NotFound('n').name, 'NotFound');
  assert.is(new NotFound('n').code, 'NotFound');
  assert.is(new BerthError('b').code, 'SystemError');
});

test('isBerthError recognises the class and the code, and nothing unbranded', () => {
  const err: unknown = new NotFound('no such network: x');
  assert.ok(isBerthError(err));
  assert.ok(isBerthError(err, 'NotFound'));
  assert.not.ok(isBerthError(err, 'Conflict'));
  assert.ok(isBerthError(new NotModified('already started'), 'NotModified'));
  // Looking like one is not enough: a plain error with the same name and code is not branded.
  const lookalike = Object.assign(new Error('x'), { name: 'NotFound', code: 'NotFound', status: 404 });
  assert.not.ok(isBerthError(lookalike));
  assert.is(statusOf(lookalike), 500);
  for (const v of [undefined, null, 'NotFound', 404, {}]) assert.not.ok(isBerthError(v));
  // The brand lives on the prototype, so it stays out of JSON.
  assert.equal(JSON.parse(JSON.stringify(new NotFound('n'))), { code: 'NotFound', status: 404, name: 'NotFound' });
});

test('an error branded by another copy of core is recognised, with its own status', () => {
  // What a second copy's classes look like from here: other classes, the same registered symbol.
  class ForeignError extends Error {
    readonly code: string = 'SystemError';
    readonly status: number = 500;
  }
  Object.defineProperty(ForeignError.prototype, Symbol.for('berth.error'), { value: 1 });
  class ForeignNotFound extends ForeignError {
    override readonly code = 'NotFound';
    override readonly status = 404;
  }
  const err = new ForeignNotFound('no such volume: v');
  // Not of this copy's class tree: what instanceof would have missed.
  assert.not.ok(Object.prototype.isPrototypeOf.call(BerthError.prototype, err));
  assert.ok(isBerthError(err, 'NotFound'));
  assert.is(statusOf(err), 404);
  // An unknown code (a newer copy's?) is not taken for one of ours.
  const odd = Object.assign(new ForeignError('x'), { code: 'Teapot' });
  assert.not.ok(isBerthError(odd));
});

test('PluginSkipped is recognised by its brand, across copies too', () => {
  assert.ok(isPluginSkipped(new PluginSkipped('no zfs')));
  assert.not.ok(isPluginSkipped(Object.assign(new Error('no zfs'), { name: 'PluginSkipped', reason: 'no zfs' })));
  class ForeignSkipped extends Error {
    constructor(readonly reason: string) {
      super(reason);
    }
  }
  Object.defineProperty(ForeignSkipped.prototype, Symbol.for('berth.plugin-skipped'), { value: true });
  const foreign: unknown = new ForeignSkipped('kernel too old');
  assert.ok(isPluginSkipped(foreign));
  assert.is(isPluginSkipped(foreign) && foreign.reason, 'kernel too old');
  assert.not.ok(isPluginSkipped(new NotFound('x')));
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
