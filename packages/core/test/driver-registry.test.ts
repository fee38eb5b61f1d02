import { Conflict, DriverMap, type DriverRegistry } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

interface FakeDriver {
  readonly name: string;
}
const runc: FakeDriver = { name: 'runc' };
const crun: FakeDriver = { name: 'crun' };

test('a DriverMap reads like a map of its kind: add, get, has, size, iteration in order added', () => {
  const drivers: DriverRegistry<FakeDriver> = new DriverMap<FakeDriver>('runtime');
  assert.is(drivers.kind, 'runtime');
  assert.is(drivers.size, 0);
  drivers.add('runc', runc);
  drivers.add('crun', crun);
  assert.is(drivers.get('runc'), runc);
  assert.ok(drivers.has('crun'));
  assert.not.ok(drivers.has('kata'));
  assert.is(drivers.get('kata'), undefined);
  assert.is(drivers.size, 2);
  assert.equal([...drivers.keys()], ['runc', 'crun']);
  assert.equal([...drivers.values()], [runc, crun]);
});

test('adding a name already present is a Conflict that names the kind and the driver, and keeps the first', () => {
  const drivers = new DriverMap<FakeDriver>('network');
  drivers.add('none', runc);
  const err = (() => {
    try {
      drivers.add('none', crun);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.instance(err, Conflict);
  assert.is((err as Conflict).status, 409);
  assert.match((err as Error).message, /network/);
  assert.match((err as Error).message, /\bnone\b/);
  assert.is(drivers.get('none'), runc);
  assert.is(drivers.size, 1);
});

test('remove forgets a driver and says whether there was one', () => {
  const drivers = new DriverMap<FakeDriver>('volume');
  drivers.add('local', runc);
  assert.is(drivers.remove('local'), true);
  assert.not.ok(drivers.has('local'));
  assert.is(drivers.remove('local'), false);
  assert.is(drivers.remove('never-added'), false);
  // The name is free again.
  drivers.add('local', crun);
  assert.is(drivers.get('local'), crun);
});

test('onChange hears each add and remove from then on, and stops after unsubscribing', () => {
  const drivers = new DriverMap<FakeDriver>('runtime');
  drivers.add('before', runc);
  const heard: Array<[string, string, FakeDriver]> = [];
  const unsubscribe = drivers.onChange((change, name, driver) => heard.push([change, name, driver]));
  assert.equal(heard, [], 'drivers added before subscribing are not replayed');
  drivers.add('runc', runc);
  drivers.remove('runc');
  drivers.remove('runc'); // nothing to remove: nothing heard
  assert.throws(() => drivers.add('before', crun)); // a Conflict adds nothing: nothing heard
  assert.equal(heard, [
    ['added', 'runc', runc],
    ['removed', 'runc', runc],
  ]);
  unsubscribe();
  drivers.add('crun', crun);
  assert.is(heard.length, 2);
});

test('a listener sees the map already changed, and may unsubscribe while being called', () => {
  const drivers = new DriverMap<FakeDriver>('runtime');
  const seen: boolean[] = [];
  let second = 0;
  const stop = drivers.onChange((_change, name) => {
    seen.push(drivers.has(name));
    stop();
  });
  drivers.onChange(() => {
    second += 1;
  });
  drivers.add('runc', runc);
  drivers.remove('runc');
  assert.equal(seen, [true], 'called once, after the add took effect');
  assert.is(second, 2, 'the other listener still hears both');
});

test.run();
