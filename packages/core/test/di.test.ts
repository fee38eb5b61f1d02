import { inject, injectable, ServiceContainer, type Token, token, tokenName } from '@berth/core';
// Only to look into tsyringe's root container, which ServiceContainer must leave empty.
import { container as tsyringeRoot } from 'tsyringe';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

interface Clock {
  now(): number;
}
interface Greeter {
  readonly clock: Clock;
  greet(name: string): string;
}

// Names of their own, so nothing else in the process (which shares Symbol.for) collides.
const ClockToken = token<Clock>('test.di.clock');
const GreeterToken = token<Greeter>('test.di.greeter');
const PrefixToken = token<string>('test.di.prefix');

@injectable()
class PrefixGreeter implements Greeter {
  static made = 0;
  constructor(
    @inject(PrefixToken) private readonly prefix: string,
    @inject(ClockToken) readonly clock: Clock,
  ) {
    PrefixGreeter.made += 1;
  }
  greet(name: string): string {
    return `${this.prefix} ${name}`;
  }
}

test('a token is the registered symbol berth.<name>: two declarations of one name agree', () => {
  const again: Token<Clock> = token<Clock>('test.di.clock');
  assert.is(again, ClockToken);
  assert.is(ClockToken, Symbol.for('berth.test.di.clock'));
  assert.is(tokenName(ClockToken), 'berth.test.di.clock');
  assert.is.not(token('test.di.other'), ClockToken);
});

test('useValue resolves to that very object', () => {
  const clock = { now: () => 42 };
  const di = ServiceContainer.create().register(ClockToken, { useValue: clock });
  assert.is(di.resolve(ClockToken), clock);
  assert.is(di.resolve(ClockToken), clock);
});

test('useFactory runs once per container, on first resolve, and gets the container', () => {
  let calls = 0;
  let given: ServiceContainer | undefined;
  const di = ServiceContainer.create().register(ClockToken, {
    useFactory: (c) => {
      calls += 1;
      given = c;
      return { now: () => calls };
    },
  });
  assert.is(calls, 0, 'nothing is built before it is asked for');
  const first = di.resolve(ClockToken);
  assert.is(di.resolve(ClockToken), first);
  assert.is(calls, 1);
  assert.is(given, di);
});

test('useClass builds an @injectable class from its @inject(token) parameters, once per container', () => {
  const clock = { now: () => 7 };
  const make = () =>
    ServiceContainer.create()
      .register(PrefixToken, { useValue: 'hello' })
      .register(ClockToken, { useValue: clock })
      .register(GreeterToken, { useClass: PrefixGreeter });
  const before = PrefixGreeter.made;
  const a = make();
  const greeter = a.resolve(GreeterToken);
  assert.instance(greeter, PrefixGreeter);
  assert.is(greeter.greet('berth'), 'hello berth');
  assert.is(greeter.clock, clock);
  assert.is(a.resolve(GreeterToken), greeter, 'a service is a singleton of its container');
  const b = make();
  const other = b.resolve(GreeterToken);
  assert.is.not(other, greeter, 'never of the process: another container builds its own');
  assert.is(PrefixGreeter.made - before, 2);
});

test('a class and a factory that need the same token share its one instance', () => {
  let clocks = 0;
  const di = ServiceContainer.create()
    .register(PrefixToken, { useValue: 'hi' })
    .register(ClockToken, {
      useFactory: () => {
        clocks += 1;
        return { now: () => 0 };
      },
    })
    .register(GreeterToken, { useClass: PrefixGreeter });
  const greeter = di.resolve(GreeterToken);
  assert.is(greeter.clock, di.resolve(ClockToken));
  assert.is(clocks, 1);
});

test('a later register replaces what a token resolves to, whatever the provider kind', () => {
  const first = { now: () => 1 };
  const second = { now: () => 2 };
  const di = ServiceContainer.create().register(ClockToken, { useValue: first });
  di.register(ClockToken, { useValue: second });
  assert.is(di.resolve(ClockToken), second);

  const viaFactory = ServiceContainer.create()
    .register(ClockToken, { useFactory: () => first })
    .register(ClockToken, { useValue: second });
  assert.is(viaFactory.resolve(ClockToken), second);

  const overClass = ServiceContainer.create()
    .register(PrefixToken, { useValue: 'x' })
    .register(ClockToken, { useValue: first })
    .register(GreeterToken, { useClass: PrefixGreeter })
    .register(GreeterToken, { useValue: { clock: second, greet: () => 'embedded' } });
  assert.is(overClass.resolve(GreeterToken).greet('y'), 'embedded');
});

test('an unregistered token throws an error that names it', () => {
  const di = ServiceContainer.create();
  assert.not.ok(di.isRegistered(ClockToken));
  assert.throws(() => di.resolve(ClockToken), /nothing is registered for berth\.test\.di\.clock/);
  const err = (() => {
    try {
      di.resolve(token('test.di.missing'));
    } catch (e) {
      return e as Error;
    }
    return undefined;
  })();
  assert.is(err?.message, 'nothing is registered for berth.test.di.missing');
});

test('a class whose dependency is missing fails to resolve instead of getting undefined', () => {
  const di = ServiceContainer.create().register(GreeterToken, { useClass: PrefixGreeter });
  assert.ok(di.isRegistered(GreeterToken));
  assert.throws(() => di.resolve(GreeterToken));
});

test("containers are separate, and nothing is registered in tsyringe's root container", () => {
  const a = ServiceContainer.create().register(ClockToken, { useValue: { now: () => 1 } });
  const b = ServiceContainer.create();
  assert.ok(a.isRegistered(ClockToken));
  assert.not.ok(b.isRegistered(ClockToken));
  assert.not.ok(tsyringeRoot.isRegistered(ClockToken, true));
  assert.is.not(a.tsyringe, b.tsyringe);
});

test.run();
