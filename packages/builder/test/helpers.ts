import { isBerthError } from '@berth/core';
import * as assert from 'uvu/assert';

/** Run `fn`, expect it to throw a berth InvalidArgument whose message is exactly `message`. */
export function throwsMessage(fn: () => unknown, message: string): void {
  try {
    fn();
  } catch (err) {
    assert.ok(isBerthError(err, 'InvalidArgument'), `expected an InvalidArgument, got ${String(err)}`);
    assert.is((err as Error).message, message);
    return;
  }
  assert.unreachable(`expected an error: ${message}`);
}

/** Join lines with newlines and a final newline: a Dockerfile's text. */
export function lines(...text: string[]): string {
  return `${text.join('\n')}\n`;
}
