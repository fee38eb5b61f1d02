// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${x} is Dockerfile syntax here, not a template
import {
  type CopyStep,
  evaluateStage,
  type ImageRuntimeConfig,
  nopCreatedBy,
  type PlanOptions,
  parseDockerfile,
  planBuild,
  type RunStep,
  type Step,
} from '@berth/builder';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lines, throwsMessage } from './helpers.js';

const busybox: ImageRuntimeConfig = { Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] };

/** Evaluate the last stage of `text` against `base`. */
function evaluate(text: string, base: ImageRuntimeConfig | null = busybox, options: PlanOptions = {}) {
  const plan = planBuild(parseDockerfile(text), options);
  return evaluateStage(plan, plan.target, { config: base });
}
const runs = (steps: Step[]) => steps.filter((s): s is RunStep => s.kind === 'run');
const copies = (steps: Step[]) => steps.filter((s): s is CopyStep => s.kind === 'copy' || s.kind === 'add');

test('ENV: expanded with the values before the line; replaces a variable in place, appends a new one', () => {
  const { config } = evaluate(lines('FROM busybox', 'ENV A=1', 'ENV A=2 B=$A C="${A} x"', 'ENV PATH=/opt/bin:$PATH'));
  assert.equal(config.Env, ['PATH=/opt/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=2', 'B=1', 'C=1 x']);
});

test('ARG scoping: global ARGs only where redeclared; build args override defaults; ENV wins over ARG', () => {
  const text = lines(
    'ARG VERSION=1.0',
    'ARG GLOBAL_ONLY=g',
    'FROM busybox',
    'LABEL before=[$VERSION][$GLOBAL_ONLY]',
    'ARG VERSION',
    'ARG LOCAL=default',
    'LABEL after=$VERSION local=$LOCAL',
    'ENV LOCAL=from-env',
    'LABEL env=$LOCAL',
  );
  assert.equal(evaluate(text).config.Labels, { before: '[][]', after: '1.0', local: 'default', env: 'from-env' });
  assert.equal(evaluate(text, busybox, { buildArgs: { VERSION: '2.0', LOCAL: 'cli' } }).config.Labels, {
    before: '[][]',
    after: '2.0',
    local: 'cli',
    env: 'from-env',
  });
});

test('the names of one ARG line are declared in order, a later default seeing an earlier one (as BuildKit)', () => {
  const { config } = evaluate(lines('FROM busybox', 'ARG A=1 B=${A}2', 'LABEL b=$B'));
  assert.equal(config.Labels, { b: '12' });
});

test("an ARG without a value and without a build arg is empty, and stays out of RUN's environment", () => {
  const { steps } = evaluate(lines('FROM busybox', 'ARG NOVALUE', 'ARG WITH=1', 'RUN echo'));
  const [run] = runs(steps);
  assert.equal(run!.buildArgs, ['WITH=1']);
  assert.equal(run!.env, ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'WITH=1']);
  assert.is(run!.createdBy, '|1 WITH=1 /bin/sh -c echo');
});

test('which instructions expand: LABEL WORKDIR USER VOLUME STOPSIGNAL EXPOSE COPY do; RUN CMD ONBUILD HEALTHCHECK do not', () => {
  const { config, steps } = evaluate(
    lines(
      'FROM busybox',
      'ENV D=/data U=app S=SIGTERM P="80 443/udp" N=name',
      'LABEL $N=$U',
      'WORKDIR $D',
      'USER ${U}:${U}',
      'VOLUME $D/vol',
      'STOPSIGNAL $S',
      'EXPOSE $P',
      'COPY --chown=$U src/$N $D/',
      'RUN echo $D',
      'CMD echo $D',
      'ONBUILD RUN echo $D',
      'HEALTHCHECK CMD test -d $D',
    ),
  );
  assert.equal(config.Labels, { name: 'app' });
  assert.is(config.WorkingDir, '/data');
  assert.is(config.User, 'app:app');
  assert.equal(config.Volumes, { '/data/vol': {} });
  assert.is(config.StopSignal, 'SIGTERM');
  assert.equal(config.ExposedPorts, { '80/tcp': {}, '443/udp': {} });
  const [copy] = copies(steps);
  assert.equal([copy!.sources, copy!.dest, copy!.chown], [[{ kind: 'path', path: 'src/name' }], '/data/', 'app']);
  assert.equal(runs(steps)[0]!.argv, ['/bin/sh', '-c', 'echo $D']);
  assert.equal(config.Cmd, ['/bin/sh', '-c', 'echo $D']);
  assert.equal(config.OnBuild, ['RUN echo $D']);
  assert.equal(config.Healthcheck, { Test: ['CMD-SHELL', 'test -d $D'] });
});

test('ENTRYPOINT resets an inherited CMD; a CMD of the same stage survives it', () => {
  assert.equal(evaluate(lines('FROM busybox', 'ENTRYPOINT ["/entry"]')).config.Cmd, null);
  const kept = evaluate(lines('FROM busybox', 'CMD ["--help"]', 'ENTRYPOINT ["/entry"]')).config;
  assert.equal([kept.Entrypoint, kept.Cmd], [['/entry'], ['--help']]);
  const later = evaluate(lines('FROM busybox', 'ENTRYPOINT ["/entry"]', 'CMD ["x"]')).config;
  assert.equal([later.Entrypoint, later.Cmd], [['/entry'], ['x']]);
});

test('shell forms wrap in SHELL (default /bin/sh -c); exec forms do not; CMD with nothing is the bare shell', () => {
  const { config, steps } = evaluate(
    lines(
      'FROM busybox',
      'RUN echo one',
      'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
      'RUN echo two',
      'RUN ["echo", "three"]',
      'ENTRYPOINT exec app',
    ),
  );
  assert.equal(
    runs(steps).map((r) => r.argv),
    [
      ['/bin/sh', '-c', 'echo one'],
      ['/bin/bash', '-o', 'pipefail', '-c', 'echo two'],
      ['echo', 'three'],
    ],
  );
  assert.equal(config.Entrypoint, ['/bin/bash', '-o', 'pipefail', '-c', 'exec app']);
  assert.equal(evaluate(lines('FROM busybox', 'CMD')).config.Cmd, ['/bin/sh', '-c']);
  assert.equal(evaluate(lines('FROM busybox', 'ENTRYPOINT []')).config.Entrypoint, null);
});

test('WORKDIR is relative to the previous one and cleaned; RUN and COPY carry it', () => {
  const { config, steps } = evaluate(lines('FROM busybox', 'WORKDIR /a', 'WORKDIR b/', 'WORKDIR ../c/./d', 'RUN pwd', 'COPY x .'));
  assert.is(config.WorkingDir, '/a/c/d');
  assert.is(runs(steps)[0]!.workdir, '/a/c/d');
  assert.is(copies(steps)[0]!.workdir, '/a/c/d');
  assert.is(evaluate(lines('FROM busybox', 'RUN pwd'), null).steps[0]!.kind, 'run');
  assert.is(runs(evaluate(lines('FROM busybox', 'RUN pwd'), null).steps)[0]!.workdir, '/');
});

test("the base image's ONBUILD triggers run first, are announced, and are not inherited", () => {
  const base: ImageRuntimeConfig = { ...busybox, OnBuild: ['ENV FROM_TRIGGER=1', 'RUN echo $FROM_TRIGGER', 'COPY <<EOF /t\nx\nEOF'] };
  const stage = evaluate(lines('FROM parent', 'ONBUILD RUN mine', 'RUN echo own'), base);
  assert.is(stage.triggerBanner, '# Executing 3 build triggers');
  assert.equal(
    stage.steps.map((s) => [s.kind, s.trigger, s.text]),
    [
      ['config', true, ''],
      ['run', true, ''],
      ['copy', true, ''],
      ['config', false, 'Step 2/3 : ONBUILD RUN mine'],
      ['run', false, 'Step 3/3 : RUN echo own'],
    ],
  );
  assert.equal(copies(stage.steps)[0]!.sources, [{ kind: 'heredoc', name: 'EOF', content: 'x\n' }]);
  assert.equal(stage.config.OnBuild, ['RUN mine']);
  assert.ok(stage.config.Env!.includes('FROM_TRIGGER=1'));
  assert.is(evaluate(lines('FROM x'), { OnBuild: ['RUN a'] }).triggerBanner, '# Executing 1 build trigger');
  throwsMessage(
    () => evaluate(lines('FROM x'), { OnBuild: ['COPPY a b'] }),
    'Dockerfile:1: unknown instruction: COPPY (did you mean COPY?)',
  );
});

test('Step N/M texts, across stages, as the classic builder prints them', () => {
  const text = lines('ARG X=1', 'FROM busybox AS a', 'RUN echo \\', '  hi', 'FROM a', 'LABEL k=v');
  const plan = planBuild(parseDockerfile(text));
  const a = evaluateStage(plan, 0, { config: busybox });
  const b = evaluateStage(plan, 1, { config: a.config });
  assert.equal(
    [...plan.globalArgSteps, a.fromText, ...a.steps.map((s) => s.text), b.fromText, ...b.steps.map((s) => s.text)],
    ['Step 1/5 : ARG X=1', 'Step 2/5 : FROM busybox AS a', 'Step 3/5 : RUN echo   hi', 'Step 4/5 : FROM a', 'Step 5/5 : LABEL k=v'],
  );
});

test('config steps: the config after them and the history text Docker writes (in the SHELL in force; WORKDIR as one word)', () => {
  const { steps, author } = evaluate(
    lines(
      'FROM busybox',
      'MAINTAINER Jane',
      'ENV A=1',
      'CMD ["a", "b c"]',
      'VOLUME /x /y',
      'SHELL ["/bin/bash", "-c"]',
      'HEALTHCHECK --interval=5s --retries=2 CMD true',
      'EXPOSE 8080',
      'WORKDIR /w',
    ),
  );
  assert.is(author, 'Jane');
  assert.equal(
    steps.map((s) => (s.kind === 'config' ? s.createdBy : '')),
    [
      '/bin/sh -c #(nop)  MAINTAINER Jane',
      '/bin/sh -c #(nop)  ENV A=1',
      '/bin/sh -c #(nop)  CMD ["a" "b c"]',
      '/bin/sh -c #(nop)  VOLUME [/x /y]',
      '/bin/bash -c #(nop)  SHELL [/bin/bash -c]',
      '/bin/bash -c #(nop)  HEALTHCHECK &{Test:[CMD-SHELL true] Interval:5s Timeout:0s StartPeriod:0s StartInterval:0s Retries:2}',
      '/bin/bash -c #(nop)  EXPOSE 8080',
      '/bin/bash -c #(nop) WORKDIR /w',
    ],
  );
  assert.equal(steps[5]!.config.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5e9, Retries: 2 });
});

test('RUN mounts: expanded, relative targets under WORKDIR, default ids and secret targets, from= resolved', () => {
  const text = lines(
    'FROM busybox AS deps',
    'FROM busybox',
    'ARG CACHE=/root/.cache',
    'WORKDIR /src',
    'RUN --mount=type=cache,target=$CACHE --mount=type=bind,from=deps,source=/out,target=deps --mount=type=secret,id=npmrc --mount=type=secret,target=/etc/token make',
  );
  const [run] = runs(evaluate(text).steps);
  assert.equal(
    run!.mounts.map((m) => [m.type, m.target, m.id, m.readOnly, m.fromRef]),
    [
      ['cache', '/root/.cache', '/root/.cache', false, undefined],
      ['bind', '/src/deps', undefined, true, { kind: 'stage', stage: 0 }],
      ['secret', '/run/secrets/npmrc', 'npmrc', true, undefined],
      ['secret', '/etc/token', 'token', true, undefined],
    ],
  );
  throwsMessage(() => evaluate(lines('FROM x', 'RUN --mount=type=cache,target=/ true')), 'Dockerfile:2: invalid mount target "/"');
  throwsMessage(
    () => evaluate(lines('FROM x', 'ARG T=bogus', 'RUN --mount=type=$T,target=/x true')),
    'Dockerfile:3: unsupported mount type "bogus"',
  );
});

test('RUN heredocs: a lone heredoc is the script (a #! one runs as a file); others fold into the command', () => {
  const { steps } = evaluate(
    lines(
      'FROM busybox',
      'RUN <<EOF',
      'echo one',
      'EOF',
      'RUN <<-EOF',
      '\t#!/usr/bin/env python3',
      '\tprint(1)',
      '\tEOF',
      'RUN cat <<A >/a && cat <<B >/b',
      'alpha',
      'A',
      'beta',
      'B',
    ),
  );
  const [plain, shebang, folded] = runs(steps);
  assert.equal(plain!.argv, ['/bin/sh', '-c', 'echo one\n']);
  assert.equal(shebang!.argv, ['/bin/sh', '-c', '/dev/pipes/EOF']);
  assert.equal(shebang!.inlineFiles, [{ path: '/dev/pipes/EOF', content: '#!/usr/bin/env python3\nprint(1)\n', mode: 0o755 }]);
  assert.equal(folded!.argv, ['/bin/sh', '-c', 'cat <<A >/a && cat <<B >/b\nalpha\nA\nbeta\nB']);
});

test('COPY heredocs expand unless the delimiter is quoted; --from resolves to a stage or an image', () => {
  const { steps } = evaluate(
    lines(
      'FROM busybox AS one',
      'FROM busybox',
      'ARG V=1',
      'COPY <<EOF <<"RAW" /etc/',
      'v=$V "q"',
      'EOF',
      'v=$V',
      'RAW',
      'COPY --from=one /a /a',
      'COPY --from=alpine:3 /b /b',
    ),
  );
  const [heredocs, fromStage, fromImage] = copies(steps);
  assert.equal(heredocs!.sources, [
    { kind: 'heredoc', name: 'EOF', content: 'v=1 "q"\n' },
    { kind: 'heredoc', name: 'RAW', content: 'v=$V\n' },
  ]);
  assert.equal(fromStage!.from, { kind: 'stage', stage: 0 });
  assert.equal(fromImage!.from, { kind: 'image', ref: 'alpine:3' });
});

test('proxy build args reach RUN without an ARG but stay out of the history and cache key', () => {
  const [run] = runs(evaluate(lines('FROM busybox', 'RUN apk add x'), busybox, { buildArgs: { HTTP_PROXY: 'http://proxy:3128' } }).steps);
  assert.ok(run!.env.includes('HTTP_PROXY=http://proxy:3128'));
  assert.equal(run!.buildArgs, []);
  assert.is(run!.createdBy, '/bin/sh -c apk add x');
});

test('cache keys: equal for the same inputs, different when an ARG value or the config changes', () => {
  const text = lines('FROM busybox', 'ARG V=1', 'RUN make');
  const key = (options: PlanOptions, base = busybox) => JSON.stringify(runs(evaluate(text, base, options).steps)[0]!.cacheKey);
  assert.is(key({}), key({}));
  assert.is.not(key({}), key({ buildArgs: { V: '2' } }));
  assert.is.not(key({}), key({}, { ...busybox, Env: ['PATH=/bin'] }));
});

test('bad values found only after expansion are errors on their line', () => {
  throwsMessage(() => evaluate(lines('FROM x', 'STOPSIGNAL SIGNOPE')), 'Dockerfile:2: Invalid signal: SIGNOPE');
  throwsMessage(() => evaluate(lines('FROM x', 'EXPOSE 80/bogus')), 'Dockerfile:2: invalid proto: bogus');
  throwsMessage(() => evaluate(lines('FROM x', 'EXPOSE 99999')), 'Dockerfile:2: invalid containerPort: 99999');
  throwsMessage(
    () => evaluate(lines('FROM x', 'COPY --chmod=0999 a b')),
    "Dockerfile:2: invalid chmod parameter: '0999'. it should be octal string and between 0 and 07777",
  );
  throwsMessage(
    () => evaluate(lines('FROM x', 'COPY --chmod=u+q a b')),
    "Dockerfile:2: invalid chmod parameter: 'u+q'. it should be octal string and between 0 and 07777, or a symbolic mode",
  );
  throwsMessage(
    () => evaluate(lines('FROM x', '', 'COPY ${A:#x} b')),
    'Dockerfile:3: failed to process "${A:#x}": unsupported modifier (:#) in substitution',
  );
  throwsMessage(() => evaluate(lines('FROM x', 'ENV E=', 'VOLUME $E')), 'Dockerfile:3: VOLUME specified can not be an empty string');
});

test("--chmod takes octal and symbolic modes; EXPOSE records its ports in Docker's sorted order", () => {
  const { steps } = evaluate(lines('FROM x', 'ARG M=0755', 'COPY --chmod=$M a b', 'COPY --chmod=u+x,go=rX a b', 'EXPOSE 8080 443 80/udp'));
  assert.equal(
    copies(steps).map((c) => c.chmod),
    ['0755', 'u+x,go=rX'],
  );
  const expose = steps[steps.length - 1]!;
  assert.is(expose.kind === 'config' && expose.createdBy, '/bin/sh -c #(nop)  EXPOSE 443 80/udp 8080');
});

test('nopCreatedBy: the two spellings of a no-command history entry', () => {
  assert.is(nopCreatedBy({}, 'COPY file:abc in /dst ', true), '/bin/sh -c #(nop) COPY file:abc in /dst ');
  assert.is(nopCreatedBy({ Shell: ['pwsh', '-c'] }, 'LABEL a=b'), 'pwsh -c #(nop)  LABEL a=b');
});

test('steps share the unchanged parts of their configs (no deep copy per step)', () => {
  const body = Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? `ENV V${i}=${i}` : `LABEL l${i}=${i}`));
  const { steps, config } = evaluate(lines('FROM busybox', ...body));
  assert.is(steps.length, 3000);
  assert.is(config.Env!.length, 1501);
  assert.is(steps[1]!.config.Env, steps[0]!.config.Env, 'a LABEL step keeps the Env array of the step before');
  assert.is(steps[2]!.config.Labels, steps[1]!.config.Labels, 'an ENV step keeps the Labels of the step before');
  assert.is.not(steps[2]!.config.Env, steps[1]!.config.Env);
  assert.is(steps[0]!.config.Env!.length, 2, "an earlier step's config is not changed by later ones");
});

test('scratch starts from an empty config; signals by number and RT names are valid', () => {
  const { config } = evaluate(lines('FROM scratch', 'STOPSIGNAL 9', 'STOPSIGNAL rtmin+3'), null);
  assert.is(config.StopSignal, 'rtmin+3');
  assert.equal(config.Env, undefined);
});

test.run();
