import { berthErrorStatus, isBerthError } from '@berth/core';
import * as assert from 'uvu/assert';

/**
 * Assert that `action` rejects with the error called `name`. For a berth error code
 * ("NotFound", "Conflict", ...) the error must also carry core's brand with that code
 * (`isBerthError`), which a driver built against another copy of @berth/core passes and
 * a plain `Error` renamed to look like one does not; any other name is compared as is.
 */
export async function rejectsWith(action: Promise<unknown> | (() => Promise<unknown>), name: string, message?: RegExp): Promise<Error> {
  let caught: unknown;
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) assert.unreachable(`expected a ${name} error, but the call succeeded`);
  const err = caught as Error;
  assert.is(err.name, name, `expected a ${name} error, got ${err.name}: ${err.message}`);
  if (Object.hasOwn(berthErrorStatus, name)) {
    assert.ok(isBerthError(err, name as keyof typeof berthErrorStatus), `${name} without berth's brand: ${err.message}`);
  }
  if (message) assert.match(err.message, message);
  return err;
}

/** Assert that `action` fails with the errno code `code` ("EROFS", ...). */
export async function rejectsWithCode(action: () => Promise<unknown>, code: string): Promise<void> {
  let caught: unknown;
  try {
    await action();
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) assert.unreachable(`expected ${code}, but the call succeeded`);
  assert.is((caught as NodeJS.ErrnoException).code, code, `expected ${code}, got ${String(caught)}`);
}

/** The error `action` fails with (a promise, or a function called and awaited), for asserting on; a call that succeeds fails the test. */
export async function errorOf(action: Promise<unknown> | (() => unknown)): Promise<Error> {
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (err) {
    return err as Error;
  }
  return assert.unreachable('expected a failure, but the call succeeded') as never;
}
