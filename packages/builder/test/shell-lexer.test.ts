// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${x} is Dockerfile syntax here, not a template
import { ShellLexer, ShellSyntaxError, variables } from '@berth/builder';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const lexer = new ShellLexer('\\');
const env = variables({ x: 'value', empty: '', path: '/usr/local/bin/tool.tar.gz', two: 'a b' });
const word = (text: string) => lexer.processWord(text, env);

test('$x and ${x} expand; an unset variable is empty; a lone $ stays', () => {
  assert.is(word('$x'), 'value');
  assert.is(word('${x}_suffix'), 'value_suffix');
  assert.is(word('pre$x'), 'prevalue');
  assert.is(word('$unset|'), '|');
  assert.is(word('cost: $ 5'), 'cost: $ 5');
  assert.is(word('$'), '$');
});

test('${x:-w} / ${x-w}: default when unset (and, with the colon, when empty)', () => {
  assert.is(word('${unset:-def}'), 'def');
  assert.is(word('${empty:-def}'), 'def');
  assert.is(word('${empty-def}'), '');
  assert.is(word('${unset-def}'), 'def');
  assert.is(word('${x:-def}'), 'value');
  assert.is(word('${unset:-$x}'), 'value');
});

test('${x:+w} / ${x+w}: the word when set (and, with the colon, not empty)', () => {
  assert.is(word('${x:+alt}'), 'alt');
  assert.is(word('${empty:+alt}'), '');
  assert.is(word('${empty+alt}'), 'alt');
  assert.is(word('${unset+alt}'), '');
});

test('${x:?msg} / ${x?msg} fail with the message when unset', () => {
  assert.is(word('${x:?needed}'), 'value');
  assert.throws(() => word('${unset:?must be set}'), /unset: must be set/);
  assert.throws(() => word('${unset?}'), /unset: is not allowed to be unset/);
  assert.throws(() => word('${empty:?}'), /empty: is not allowed to be empty/);
  assert.is(word('${empty?}'), '');
});

test('${x#p} ${x##p} ${x%p} ${x%%p}: shortest and longest prefix and suffix removal', () => {
  assert.is(word('${path#*/}'), 'usr/local/bin/tool.tar.gz');
  assert.is(word('${path##*/}'), 'tool.tar.gz');
  assert.is(word('${path%.*}'), '/usr/local/bin/tool.tar');
  assert.is(word('${path%%.*}'), '/usr/local/bin/tool');
  assert.is(word('${path#nomatch}'), '/usr/local/bin/tool.tar.gz');
  assert.is(word('${x%?}'), 'valu');
});

test('${x/p/r} replaces the first match, ${x//p/r} every match', () => {
  assert.is(word('${path/\\//:}'), ':usr/local/bin/tool.tar.gz');
  assert.is(word('${path//\\//:}'), ':usr:local:bin:tool.tar.gz');
  assert.is(word('${x/a*/A}'), 'vA');
  assert.is(word('${x/$/x}'), 'value');
});

test('patterns: ? is one character, escapes make * and ? literal, * does not cross a newline', () => {
  const vars = variables({ v: 'a*b?c', multi: 'one\ntwo', word: 'banana' });
  const w = (text: string) => lexer.processWord(text, vars);
  assert.is(w('${v#a\\*}'), 'b?c');
  assert.is(w('${v%\\?c}'), 'a*b');
  assert.is(w('${multi#*o}'), 'ne\ntwo');
  assert.is(w('${multi##*o}'), 'ne\ntwo');
  assert.is(w('${word//?/-}'), '------');
  assert.is(w('${word//an/AN}'), 'bANANa');
  assert.is(w('${word/n*/N}'), 'baN');
  assert.is(w('${word//x*/-}'), 'banana');
  assert.is(w('${word//*/-}'), '-');
  assert.throws(() => w('${word#\\q}'), /invalid pattern \(\\q\) in substitution: invalid escape '\\q'/);
});

test('a pattern that would make a backtracking matcher explode takes linear time', () => {
  const vars = variables({ long: 'a'.repeat(20_000) });
  const pattern = '*a'.repeat(12);
  const started = process.hrtime.bigint();
  assert.is(lexer.processWord(`\${long#${pattern}b}`, vars).length, 20_000);
  assert.is(lexer.processWord(`\${long%%${pattern}b}`, vars).length, 20_000);
  assert.is(lexer.processWord(`\${long/${pattern}b/x}`, vars).length, 20_000);
  assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 2000, 'under 2 s');
});

test('unsupported and malformed substitutions are errors in Docker words', () => {
  assert.throws(() => word('${x:#p}'), /unsupported modifier \(:#\) in substitution/);
  assert.throws(() => word('${x^}'), /unsupported modifier \(\^\) in substitution/);
  assert.throws(() => word('${x'), /syntax error: missing '}'/);
  assert.throws(() => word('${}'), /syntax error: bad substitution/);
  assert.throws(() => word('${:x}'), /syntax error: bad substitution/);
  assert.throws(() => word('${x/a'), /missing '\/' in \$\{\}/);
  try {
    word('${x:#p}');
  } catch (err) {
    assert.instance(err, ShellSyntaxError);
    assert.match((err as Error).message, /^failed to process "\$\{x:#p\}": /);
  }
});

test('quotes: single quotes are literal, double quotes expand, both group words', () => {
  assert.is(word("'$x'"), '$x');
  assert.is(word('"$x"'), 'value');
  assert.is(word('"a \\"b\\" \\$x \\n"'), 'a "b" $x \\n');
  assert.equal(lexer.processWords('one "two three" \'four five\'', env), ['one', 'two three', 'four five']);
  assert.throws(() => word('"open'), /unexpected end of statement while looking for matching double-quote/);
  assert.throws(() => word("'open"), /unexpected end of statement while looking for matching single-quote/);
});

test('the escape character protects $ and blanks; a substituted value splits into words', () => {
  assert.is(word('\\$x'), '$x');
  assert.is(word('\\${x}'), '${x}');
  assert.equal(lexer.processWords('a\\ b', env), ['a b']);
  assert.equal(lexer.processWords('$two c', env), ['a', 'b', 'c']);
  assert.equal(lexer.processWords('"$two" c', env), ['a b', 'c']);
});

test('the backtick escape (# escape=`) escapes, and a backslash is then plain text', () => {
  const windows = new ShellLexer('`');
  assert.is(windows.processWord('C:\\path\\$x', env), 'C:\\path\\value');
  assert.is(windows.processWord('`$x', env), '$x');
});

test('special and numeric parameters are names of their own', () => {
  assert.is(word('$1x'), 'x');
  assert.is(word('$$'), '');
  assert.is(word('$@-'), '-');
});

test('the result records which variables were found and which were not', () => {
  const result = lexer.process('$x ${unset:-d} $empty', env);
  assert.equal([...result.matched].sort(), ['empty', 'x']);
  assert.equal([...result.unmatched], ['unset']);
});

test.run();
