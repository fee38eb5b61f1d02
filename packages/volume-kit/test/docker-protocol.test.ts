// The words an Err carries: Docker's protocol has no error codes, so the kind is in the text.
import { Conflict, InvalidArgument, isBerthError, NotFound, SystemError } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { errorFromWire, wireMessage } from '../src/index.js';

test('wireMessage keeps a message that says its kind, and prefixes the words when it does not', () => {
  assert.is(wireMessage(new NotFound('no such volume: v')), 'no such volume: v');
  assert.is(wireMessage(new NotFound('volume v not found')), 'volume v not found');
  assert.is(wireMessage(new NotFound('gone')), 'no such volume: gone');
  assert.is(wireMessage(new Conflict('remove v: volume is in use')), 'remove v: volume is in use');
  assert.is(wireMessage(new Conflict('still has a mount')), 'volume is in use: still has a mount');
  assert.is(wireMessage(new InvalidArgument('invalid option "x"')), 'invalid option "x"');
  assert.is(wireMessage(new InvalidArgument('size must be a number')), 'invalid argument: size must be a number');
  assert.is(wireMessage(new SystemError('mkfs failed')), 'mkfs failed');
  assert.is(wireMessage(new Error('plain')), 'plain');
});

test('errorFromWire reads every kind back from what wireMessage wrote, the message as it came', () => {
  for (const [err, code] of [
    [new NotFound('gone'), 'NotFound'],
    [new Conflict('still has a mount'), 'Conflict'],
    [new InvalidArgument('size must be a number'), 'InvalidArgument'],
    [new SystemError('mkfs failed'), 'SystemError'],
  ] as const) {
    const text = wireMessage(err);
    const back = errorFromWire(text);
    assert.ok(isBerthError(back, code), `${text} → ${back.code}`);
    assert.is(back.message, text);
  }
});

test.run();
