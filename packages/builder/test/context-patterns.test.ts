import { goMatch, hasWildcards, IgnoreMatcher, parseDockerignore } from '@berth/builder';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('goMatch follows Go filepath.Match: * and ? stop at /, classes, ranges, negation, escapes', () => {
  assert.ok(goMatch('*.txt', 'a.txt'));
  assert.not.ok(goMatch('*.txt', 'd/a.txt'));
  assert.ok(goMatch('d/*.txt', 'd/a.txt'));
  assert.ok(goMatch('a?c', 'abc'));
  assert.not.ok(goMatch('a?c', 'a/c'));
  assert.ok(goMatch('[a-c]x', 'bx'));
  assert.not.ok(goMatch('[a-c]x', 'dx'));
  assert.ok(goMatch('[^a-c]x', 'dx'));
  assert.not.ok(goMatch('[^a-c]x', 'ax'));
  assert.ok(goMatch('\\*', '*'));
  assert.not.ok(goMatch('\\*', 'a'));
  assert.ok(goMatch('a.b', 'a.b'));
  assert.not.ok(goMatch('a.b', 'axb'), 'a dot is literal');
  assert.ok(goMatch('(x)+', '(x)+'), 'regular-expression characters are literal');
  assert.ok(goMatch('[\\]]', ']'));
  assert.ok(goMatch('日*', '日本'));
});

test('bad patterns are InvalidArguments naming the pattern', () => {
  for (const bad of ['[', '[]', '[a-', 'a[', '[z-a]', 'x\\', '[-]']) {
    try {
      goMatch(bad, 'x');
      assert.unreachable(`pattern ${bad} accepted`);
    } catch (err) {
      assert.is((err as { code?: string }).code, 'InvalidArgument', bad);
      assert.match((err as Error).message, 'syntax error in pattern');
    }
  }
});

test('hasWildcards sees *, ? and [ but not escaped ones', () => {
  assert.ok(hasWildcards('a*'));
  assert.ok(hasWildcards('a?'));
  assert.ok(hasWildcards('[ab]'));
  assert.not.ok(hasWildcards('plain/name.txt'));
  assert.not.ok(hasWildcards('a\\*'));
});

test('parseDockerignore: comments in the first column, trimming, BOM, cleaning, leading / and ./', () => {
  const text = '\uFEFF# comment\n  node_modules  \n\n/abs\n./rel/../dot\n!  /keep//me/\n #not a comment\na/\n';
  assert.equal(parseDockerignore(text), ['node_modules', 'abs', 'dot', '!keep/me', '#not a comment', 'a']);
});

test('.dockerignore semantics: directories, parent matches, **, the last match wins, exceptions', () => {
  const m = new IgnoreMatcher(parseDockerignore('*.log\n!important.log\nbuild\n**/*.tmp\ndocs/**\n!docs/README.md\nsecret?\n'));
  assert.ok(m.ignores('a.log'));
  assert.not.ok(m.ignores('important.log'), 'an exception after the pattern re-includes');
  assert.not.ok(m.ignores('sub/a.log'), '* does not cross /');
  assert.ok(m.ignores('build'));
  assert.ok(m.ignores('build/x/y.c'), 'a matched directory takes its contents');
  assert.ok(m.ignores('x.tmp'), '**/ matches zero directories');
  assert.ok(m.ignores('a/b/c/x.tmp'));
  assert.ok(m.ignores('docs/a/b'));
  assert.not.ok(m.ignores('docs/README.md'));
  assert.ok(m.ignores('secret1'));
  assert.not.ok(m.ignores('secret12'));
  assert.not.ok(m.ignores('src/main.c'));

  const order = new IgnoreMatcher(['!a.txt', '*.txt']);
  assert.ok(order.ignores('a.txt'), 'the last matching line wins: an exception before the pattern does nothing');
  const reinclude = new IgnoreMatcher(['dir', '!dir/keep']);
  assert.ok(reinclude.ignores('dir/other'));
  assert.not.ok(reinclude.ignores('dir/keep'));
  assert.ok(reinclude.hasExceptions);
  const all = new IgnoreMatcher(['**', '!Dockerfile']);
  assert.ok(all.ignores('anything/at/all'));
  assert.not.ok(all.ignores('.'), 'never the root itself');
  assert.not.ok(all.ignores('Dockerfile'));
  const rooted = new IgnoreMatcher(parseDockerignore('/top\n'));
  assert.ok(rooted.ignores('top'));
  assert.not.ok(rooted.ignores('sub/top'), 'patterns are anchored at the context root');
  assert.ok(new IgnoreMatcher([]).empty);
  const suffix = new IgnoreMatcher(['**.log', '**/cache']);
  assert.ok(suffix.ignores('x.log'), '** then literals is a suffix test');
  assert.ok(suffix.ignores('a/b/x.log'));
  assert.ok(suffix.ignores('cache'));
  assert.ok(suffix.ignores('a/cache/f'));
  assert.not.ok(suffix.ignores('a/xcache'));
});

test('a lone ! is refused', () => {
  try {
    new IgnoreMatcher(['!']);
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, 'illegal exclusion pattern');
  }
});

test.run();
