import { Writable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BuildDisplay } from '../src/build/build-display.js';

/** What a display wrote, on a terminal or not. */
function sink(isTTY: boolean): Writable & { isTTY: boolean; text: string } {
  const out = new Writable({
    write(chunk, _enc, done) {
      out.text += chunk.toString();
      done();
    },
  }) as Writable & { isTTY: boolean; text: string };
  out.isTTY = isTTY;
  out.text = '';
  return out;
}

const stream = [
  'Step 1/2 : FROM busybox\n',
  ' ---> 0123456789ab\n',
  'Step 2/2 : RUN echo one; echo two\n',
  ' ---> Running in aaaaaaaaaaaa\n',
  'one\ntw',
  'o\n',
  'Removing intermediate container aaaaaaaaaaaa\n',
  ' ---> bbbbbbbbbbbb\n',
  'Successfully built bbbbbbbbbbbb\n',
];

test('not on a terminal: the daemon text exactly as it came', () => {
  const out = sink(false);
  const display = new BuildDisplay(out, () => 0);
  for (const text of stream) display.show({ stream: text });
  display.end();
  assert.is(out.text, stream.join(''));
});

test('on a terminal: a RUN output is shown under its step, then folded away when the step is done', () => {
  const out = sink(true);
  let now = 0;
  const display = new BuildDisplay(out, () => now);
  for (const text of stream) {
    if (text.startsWith(' ---> bbbb')) now = 1500;
    display.show({ stream: text });
  }
  display.end();
  const text = out.text;
  assert.match(text, '\x1b[2m    one\x1b[0m\n\x1b[2m    two\x1b[0m\n', 'the output, dimmed and indented, line by line');
  assert.match(text, '\x1b[2A\x1b[J', 'its two lines erased when the step ended');
  assert.match(text, ' ---> bbbbbbbbbbbb 1.5s');
  assert.not.match(text, 'Running in', 'container bookkeeping is not shown');
  assert.match(text, 'Successfully built bbbbbbbbbbbb\n');
});

test('on a terminal: a cached step says so; a failed step keeps its output', () => {
  const out = sink(true);
  const display = new BuildDisplay(out, () => 0);
  for (const text of ['Step 1/1 : RUN true\n', ' ---> Using cache\n', ' ---> cccccccccccc\n', 'Step 2/2 : RUN false\n', 'it broke\n']) {
    display.show({ stream: text });
  }
  display.end();
  assert.match(out.text, ' ---> cccccccccccc (cached)');
  assert.ok(out.text.endsWith('\x1b[2m    it broke\x1b[0m\n'), JSON.stringify(out.text));
});

test.run();
