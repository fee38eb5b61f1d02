import { DockerfileError, parseDockerfile } from '@berth/builder';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lines, throwsMessage } from './helpers.js';

const parse =
  (...text: string[]) =>
  () =>
    parseDockerfile(lines(...text));

test('an unknown instruction, with a suggestion when one is close', () => {
  throwsMessage(parse('FROM busybox', '', '', '', '', '', 'COPPY a b'), 'Dockerfile:7: unknown instruction: COPPY (did you mean COPY?)');
  throwsMessage(parse('FROM busybox', 'entrypont ["x"]'), 'Dockerfile:2: unknown instruction: entrypont (did you mean entrypoint?)');
  throwsMessage(parse('FROM busybox', 'XYZZY now'), 'Dockerfile:2: unknown instruction: XYZZY');
});

test('the error carries file, lines and problem; the file name is the one given', () => {
  try {
    parseDockerfile(lines('FROM x', 'RUN <<EOF', 'no end'), { file: 'build/app.Dockerfile' });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, DockerfileError);
    const e = err as DockerfileError;
    assert.equal([e.file, e.line, e.endLine, e.problem, e.status], ['build/app.Dockerfile', 2, 3, 'unterminated heredoc', 400]);
    assert.is(e.message, 'build/app.Dockerfile:2: unterminated heredoc');
  }
});

test('an empty Dockerfile, or one with only comments', () => {
  throwsMessage(() => parseDockerfile(''), 'Dockerfile: file with no instructions');
  throwsMessage(parse('# only a comment', '', '   '), 'Dockerfile: file with no instructions');
});

test('an instruction before the first FROM (ARG excepted); only ARGs and no FROM', () => {
  throwsMessage(parse('ARG A', 'RUN echo', 'FROM x'), 'Dockerfile:2: no build stage in current context');
  throwsMessage(parse('ARG A=1'), 'Dockerfile:1: no build stage in current context');
});

test('bad JSON: a JSON array of non-strings', () => {
  throwsMessage(parse('FROM x', 'CMD ["echo", 1]'), 'Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only');
  throwsMessage(
    parse('FROM x', 'COPY ["a", true, "/b"]'),
    'Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only',
  );
});

test('SHELL must be JSON', () => {
  throwsMessage(parse('FROM x', 'SHELL /bin/bash -c'), 'Dockerfile:2: SHELL requires the arguments to be in JSON form');
});

test('missing arguments, in Docker words per instruction', () => {
  const cases: Array<[string, string]> = [
    ['FROM', 'FROM requires either one or three arguments'],
    ['FROM a b', 'FROM requires either one or three arguments'],
    ['RUN', 'RUN requires at least one argument'],
    ['ENV', 'ENV requires at least one argument'],
    ['ENV ONLYKEY', 'ENV must have two arguments'],
    ['ENV A=1 B', 'Syntax error - can\'t find = in "B". Must be of the form: name=value'],
    ['ENV =x', 'ENV names can not be blank'],
    ['LABEL', 'LABEL requires at least one argument'],
    ['ARG', 'ARG requires at least one argument'],
    ['ARG =x', 'ARG names can not be blank'],
    ['EXPOSE', 'EXPOSE requires at least one argument'],
    ['COPY onlyone', 'COPY requires at least two arguments, but only one was provided. Destination could not be determined'],
    ['ADD', 'ADD requires at least two arguments, but only one was provided. Destination could not be determined'],
    ['WORKDIR', 'WORKDIR requires exactly one argument'],
    ['USER', 'USER requires exactly one argument'],
    ['STOPSIGNAL', 'STOPSIGNAL requires exactly one argument'],
    ['MAINTAINER', 'MAINTAINER requires exactly one argument'],
    ['VOLUME', 'VOLUME requires at least one argument'],
    ['VOLUME ["/a", ""]', 'VOLUME specified can not be an empty string'],
    ['SHELL', 'SHELL requires at least one argument'],
    ['HEALTHCHECK', 'HEALTHCHECK requires at least one argument'],
    ['HEALTHCHECK CMD', 'Missing command after HEALTHCHECK CMD'],
    ['HEALTHCHECK NONE now', 'HEALTHCHECK NONE takes no arguments'],
    ['HEALTHCHECK RUN x', 'Unknown type "RUN" in HEALTHCHECK (try CMD)'],
    ['ONBUILD', 'ONBUILD requires at least one argument'],
  ];
  for (const [line, problem] of cases) throwsMessage(parse('FROM x', line), `Dockerfile:2: ${problem}`);
});

test('a bad stage name and a stage name used twice', () => {
  throwsMessage(
    parse('FROM x AS 1st'),
    'Dockerfile:1: invalid name for build stage: "1st", name can\'t start with a number or contain symbols',
  );
  throwsMessage(parse('FROM x AS a', 'FROM y AS A'), 'Dockerfile:2: a stage name already used');
});

test('flags on the wrong instruction, unknown flags (with a suggestion), bad flag values', () => {
  throwsMessage(parse('FROM x', 'ENV --from=a A=b'), 'Dockerfile:2: unknown flag: --from');
  throwsMessage(parse('FROM x', 'RUN --chown=1 true'), 'Dockerfile:2: unknown flag: --chown');
  throwsMessage(parse('FROM x', 'ADD --from=a b c'), 'Dockerfile:2: unknown flag: --from');
  throwsMessage(parse('FROM x', 'COPY --form=a b c'), 'Dockerfile:2: unknown flag: --form (did you mean from?)');
  throwsMessage(parse('FROM --plaform=linux/amd64 x'), 'Dockerfile:1: unknown flag: --plaform (did you mean platform?)');
  throwsMessage(parse('FROM x', 'COPY --from a b'), 'Dockerfile:2: missing a value on flag: --from');
  throwsMessage(parse('FROM x', 'COPY --link=maybe a b'), 'Dockerfile:2: expecting boolean value for flag --link, not: maybe');
  throwsMessage(parse('FROM x', 'COPY --chown=a --chown=b a b'), 'Dockerfile:2: duplicate flag specified: --chown');
  throwsMessage(parse('FROM x', 'RUN --network=bridge true'), 'Dockerfile:2: invalid network mode "bridge"');
  throwsMessage(parse('FROM x', 'HEALTHCHECK --interval=10 CMD true'), 'Dockerfile:2: time: invalid duration "10"');
  throwsMessage(parse('FROM x', 'HEALTHCHECK --interval=1us CMD true'), 'Dockerfile:2: Interval "interval" cannot be less than 1ms');
  throwsMessage(parse('FROM x', 'HEALTHCHECK --retries=-1 CMD true'), 'Dockerfile:2: --retries cannot be negative (-1)');
});

test('bad RUN --mount specs, in BuildKit words', () => {
  const cases: Array<[string, string]> = [
    ['type=cahce,target=/x', 'unsupported mount type "cahce" (did you mean cache?)'],
    ['type=cache,target=/x,colour=red', "unexpected key 'colour' in 'colour=red'"],
    ['type=cache,target=/x,sharing=open', 'unsupported sharing value "open"'],
    ['type=bind,target=/x,mode=0700', 'mode not allowed for "bind" type mounts'],
    ['type=tmpfs,target=/x,size=lots', 'invalid value for size: lots'],
    ['type=cache,target=/x,size=1m', "unexpected key 'size' for mount type 'cache'"],
    ['type=secret', 'invalid secret mount. one of source, target required'],
    ['type=secret,id=a,from=b', 'secret mount should not have a from'],
    ['type=bind,target=/x,sharing=locked', 'invalid cache sharing set for bind mount'],
    ['type=cache,target', "invalid field 'target' must be a key=value pair"],
  ];
  for (const [spec, problem] of cases) throwsMessage(parse('FROM x', `RUN --mount=${spec} true`), `Dockerfile:2: ${problem}`);
});

test('ONBUILD ONBUILD, ONBUILD FROM, ONBUILD MAINTAINER, and an unknown trigger', () => {
  throwsMessage(parse('FROM x', 'ONBUILD ONBUILD RUN x'), "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  throwsMessage(parse('FROM x', 'ONBUILD from y'), "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger");
  throwsMessage(parse('FROM x', 'ONBUILD MAINTAINER me'), "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger");
  throwsMessage(parse('FROM x', 'ONBUILD COPPY a b'), 'Dockerfile:2: unknown instruction: COPPY (did you mean COPY?)');
});

test('heredoc misuse: as a COPY destination; unterminated in a continued line', () => {
  throwsMessage(parse('FROM x', 'COPY a <<EOF', 'x', 'EOF'), 'Dockerfile:2: COPY cannot accept a heredoc as a destination');
  throwsMessage(parse('FROM x', 'RUN cat \\', '  <<EOF'), 'Dockerfile:2: unterminated heredoc');
});

test.run();
