// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${x} is Dockerfile syntax here, not a template

import { evaluateStage, parseDockerfile, planBuild, ShellLexer, ShellSyntaxError, variables } from '@berth/builder';
import { isBerthError } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pieces = [
  'FROM',
  'from',
  'RUN',
  'CMD',
  'ENTRYPOINT',
  'ENV',
  'ARG',
  'LABEL',
  'EXPOSE',
  'COPY',
  'ADD',
  'WORKDIR',
  'USER',
  'VOLUME',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'SHELL',
  'ONBUILD',
  'MAINTAINER',
  'AS',
  'scratch',
  'busybox',
  'x',
  '/a',
  '--from=0',
  '--from=x',
  '--mount=type=cache,target=/c',
  '--mount=type=secret',
  '--mount=from=$A',
  '--chmod=7',
  '--link',
  '--network=none',
  '--platform=$P',
  '--interval=1s',
  '--bogus',
  '--',
  '$A',
  '${A:-b}',
  '${A#*}',
  '${',
  '${A/x/y}',
  '"',
  "'",
  '\\',
  '`',
  '[',
  ']',
  '["a"]',
  '[1]',
  '<<EOF',
  '<<-EOF',
  'EOF',
  '\tEOF',
  '#',
  '# escape=`',
  '# syntax=x',
  '=',
  'A=1',
  'B="two words"',
  'NONE',
  '80/tcp',
  '99999',
  'SIGTERM',
  'SIGNOPE',
  '\n',
  '\n',
  '\n',
  ' ',
];

test('random malformed Dockerfiles: every failure is a DockerfileError with a line, never a crash', () => {
  let parsed = 0;
  let refused = 0;
  for (let seed = 1; seed <= 3000; seed++) {
    const next = random(seed);
    const length = 1 + Math.floor(next() * 30);
    let text = next() < 0.7 ? 'FROM busybox\n' : '';
    for (let i = 0; i < length; i++) text += `${pieces[Math.floor(next() * pieces.length)]}${next() < 0.5 ? ' ' : ''}`;
    try {
      const plan = planBuild(parseDockerfile(text), { buildArgs: { A: 'v' } });
      for (const index of plan.needed) evaluateStage(plan, index, { config: { OnBuild: next() < 0.2 ? ['RUN x', 'COPPY'] : null } });
      parsed++;
    } catch (err) {
      refused++;
      if (!isBerthError(err, 'InvalidArgument')) {
        assert.unreachable(`seed ${seed}: ${String((err as Error)?.stack ?? err)}\n--- input ---\n${text}`);
      }
      assert.match((err as Error).message, /^Dockerfile(:\d+)?: \S/, `seed ${seed}`);
    }
  }
  assert.ok(parsed > 100 && refused > 100, `both outcomes exercised (${parsed} parsed, ${refused} refused)`);
});

test('random words through the lexer: a result or a ShellSyntaxError, never a crash', () => {
  const lexer = new ShellLexer('\\');
  const alphabet = ['$', '{', '}', ':', '-', '+', '?', '#', '%', '/', '*', '\\', '"', "'", 'a', 'b', ' ', '\n', '<', '='];
  const env = variables({ a: 'aXbXa', b: '' });
  for (let seed = 1; seed <= 5000; seed++) {
    const next = random(seed);
    let word = '';
    for (let i = Math.floor(next() * 16); i > 0; i--) word += alphabet[Math.floor(next() * alphabet.length)];
    try {
      lexer.process(word, env);
    } catch (err) {
      assert.instance(err, ShellSyntaxError, `seed ${seed}: ${JSON.stringify(word)}: ${String(err)}`);
    }
  }
});

test.run();
