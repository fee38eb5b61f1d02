import { inject, injectable, NotFound } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

@injectable()
class A {
  constructor(@inject('x') readonly x: string) {}
}
test('src', () => {
  assert.is(new NotFound('a').status, 404);
  assert.ok(A);
});
test.run();
