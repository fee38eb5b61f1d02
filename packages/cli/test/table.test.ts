import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ellipsis, goQuote, tabwrite, truncateId } from '../src/format/table.js';

test('columns: max(cell + 3, 10), last cell unpadded, empty cells padded', () => {
  const text = 'A\tLONGER HEADER\tLAST\nvalue\t\tx\n';
  assert.is(tabwrite(text), 'A         LONGER HEADER   LAST\nvalue                     x\n');
});

test('a column is sized over adjacent lines that have it; trailing text is in no column', () => {
  const text = 'a\tb\tc\nxx\tyyyyyyyyyyyy\nlonely line\np\tqqqqqqqqqqqqqq\tr\n';
  assert.is(tabwrite(text), 'a         b         c\n' + 'xx        yyyyyyyyyyyy\n' + 'lonely line\n' + 'p         qqqqqqqqqqqqqq   r\n');
});

test('custom minimum width and padding (version uses 20/1)', () => {
  assert.is(tabwrite(' Version:\t0.1.0\n API version:\t1.41\n', 20, 1), ' Version:           0.1.0\n API version:       1.41\n');
});

test('ellipsis keeps max characters, the last being …', () => {
  assert.is(ellipsis("sh -c 'while true; do sleep 1; done'", 20), "sh -c 'while true; …");
  assert.is(ellipsis('short', 20), 'short');
  assert.is(ellipsis('abcdef', 1), 'a');
  assert.is([...ellipsis('ééééééééééééééééééééééé', 20)].length, 20);
});

test("goQuote is Go's strconv.Quote", () => {
  assert.is(goQuote('httpd -f -p 80'), '"httpd -f -p 80"');
  assert.is(goQuote('say "hi"\n\t\x07\\'), '"say \\"hi\\"\\n\\t\\a\\\\"');
  assert.is(goQuote('a\x01b'), '"a\\x01b"');
  assert.is(goQuote('héllo …'), '"héllo …"');
});

test('truncateId drops sha256: and keeps 12', () => {
  assert.is(truncateId('sha256:01e7ee02ed05aaaabbbbcccc'), '01e7ee02ed05');
  assert.is(truncateId('ae6d7c5f0a1b2c3d'), 'ae6d7c5f0a1b');
  assert.is(truncateId('abc'), 'abc');
});

test.run();
