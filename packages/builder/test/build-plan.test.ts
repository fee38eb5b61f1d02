// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${x} is Dockerfile syntax here, not a template
import { evaluateStage, parseDockerfile, planBuild } from '@berth/builder';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lines, throwsMessage } from './helpers.js';

const multiStage = lines(
  'ARG GO=1.22',
  'FROM golang:${GO} AS build',
  'RUN go build',
  'FROM node:20 AS web',
  'RUN npm ci',
  'FROM busybox AS docs',
  'RUN true',
  'FROM scratch AS final',
  'COPY --from=build /app /app',
  'COPY --from=web /dist /www',
  'COPY --from=alpine:3 /etc/ssl /etc/ssl',
  'FROM final AS test',
  'RUN --mount=type=bind,from=docs,target=/docs check',
);

test('stages: bases resolved (image, earlier stage, scratch) with the global ARGs', () => {
  const plan = planBuild(parseDockerfile(multiStage));
  assert.equal(
    plan.stages.map((s) => [s.name, s.base]),
    [
      ['build', { kind: 'image', ref: 'golang:1.22' }],
      ['web', { kind: 'image', ref: 'node:20' }],
      ['docs', { kind: 'image', ref: 'busybox' }],
      ['final', { kind: 'scratch' }],
      ['test', { kind: 'stage', stage: 3 }],
    ],
  );
  assert.equal(plan.stages[3]!.images, ['alpine:3']);
  assert.equal(
    plan.stages.map((s) => s.dependsOn),
    [[], [], [], [0, 1], [2, 3]],
  );
});

test('the target needs only its stages; independent stages share a level', () => {
  const plan = planBuild(parseDockerfile(multiStage), { target: 'final' });
  assert.is(plan.target, 3);
  assert.equal(plan.needed, [0, 1, 3]);
  assert.equal(plan.levels, [[0, 1], [3]]);
  const all = planBuild(parseDockerfile(multiStage));
  assert.equal(all.needed, [0, 1, 2, 3, 4]);
  assert.equal(all.levels, [[0, 1, 2], [3], [4]]);
});

test('Step N/M numbers the global ARGs, then the FROM and instructions of the built stages', () => {
  const plan = planBuild(parseDockerfile(multiStage), { target: 'final' });
  // ARG (1) + build (2) + web (2) + final (4) = 9
  assert.is(plan.totalSteps, 9);
  assert.equal(plan.globalArgSteps, ['Step 1/9 : ARG GO=1.22']);
  assert.equal(
    plan.needed.map((i) => plan.stages[i]!.firstStep),
    [2, 4, 6],
  );
  assert.is(plan.stages[2]!.firstStep, 0);
});

test("--build-arg overrides a global ARG in FROM; unused build args get Docker's warning; proxy args never", () => {
  const plan = planBuild(parseDockerfile(multiStage), {
    buildArgs: { GO: '1.23', NOPE: 'x', AAA: '', HTTP_PROXY: 'http://p' },
    target: 'build',
  });
  assert.equal(plan.stages[0]!.base, { kind: 'image', ref: 'golang:1.23' });
  assert.equal(plan.warnings, ['[Warning] One or more build-args [AAA NOPE] were not consumed']);
  assert.equal(planBuild(parseDockerfile(multiStage), { buildArgs: { GO: '1' } }).warnings, []);
});

test('an ARG of a stage that is not built does not consume its build arg', () => {
  const df = parseDockerfile(lines('FROM a AS one', 'ARG ONLY_ONE', 'FROM b AS two', 'RUN true'));
  assert.equal(planBuild(df, { buildArgs: { ONLY_ONE: '1' }, target: 'two' }).warnings, [
    '[Warning] One or more build-args [ONLY_ONE] were not consumed',
  ]);
  assert.equal(planBuild(df, { buildArgs: { ONLY_ONE: '1' }, target: 'one' }).warnings, []);
});

test('COPY --from and RUN --mount from= by index and by name in any case', () => {
  const df = parseDockerfile(
    lines('FROM a AS First', 'RUN true', 'FROM b', 'RUN true', 'FROM c', 'COPY --from=FIRST /x /x', 'RUN --mount=from=1,target=/m true'),
  );
  const plan = planBuild(df);
  assert.equal(
    plan.stages.map((s) => s.dependsOn),
    [[], [], [0, 1]],
  );
  assert.equal(plan.needed, [0, 1, 2]);
});

test("--from may not name the stage itself or a later one, nor hold a variable (Docker's words)", () => {
  throwsMessage(
    () => planBuild(parseDockerfile(lines('FROM a AS one', 'COPY --from=two /x /x', 'FROM b AS two'))),
    'Dockerfile:2: cannot copy from stage "two", it needs to be defined before current stage "one"',
  );
  throwsMessage(
    () => planBuild(parseDockerfile(lines('FROM a', 'COPY --from=0 /x /y'))),
    'Dockerfile:2: cannot copy from stage "0", it needs to be defined before current stage "stage-0"',
  );
  throwsMessage(
    () => planBuild(parseDockerfile(lines('FROM a AS one', 'RUN --mount=from=one,target=/m true'))),
    'Dockerfile:2: cannot mount from stage "one" to "/m", stage needs to be defined before current command',
  );
  throwsMessage(
    () => planBuild(parseDockerfile(lines('ARG S=one', 'FROM a AS one', 'FROM b', 'COPY --from=$S /x /x'))),
    'Dockerfile:4: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
  );
  throwsMessage(
    () => parseDockerfile(lines('FROM b', 'RUN --mount=type=bind,from=${S},target=/x true')),
    "Dockerfile:2: 'from' doesn't support variable expansion, define alias stage instead",
  );
});

test('an unknown target (with a suggestion), a stage index out of range, a blank base, a bad substitution', () => {
  throwsMessage(
    () => planBuild(parseDockerfile(multiStage), { target: 'tset' }),
    'Dockerfile: target stage "tset" could not be found (did you mean test?)',
  );
  throwsMessage(
    () => planBuild(parseDockerfile(multiStage), { target: 'nothing-like-it' }),
    'Dockerfile: target stage "nothing-like-it" could not be found',
  );
  throwsMessage(() => planBuild(parseDockerfile(lines('FROM a', 'COPY --from=3 /x /y'))), 'Dockerfile:2: invalid stage index 3');
  throwsMessage(
    () => planBuild(parseDockerfile(lines('ARG EMPTY', 'FROM $EMPTY'))),
    'Dockerfile:2: base name ($EMPTY) should not be blank',
  );
  throwsMessage(() => planBuild(parseDockerfile(lines('FROM ${A'))), 'Dockerfile:1: failed to process "${A": syntax error: missing \'}\'');
});

test('a base or --from that looks like a misspelt stage name gets a note before building', () => {
  const df = parseDockerfile(
    lines(
      'FROM busybox AS build',
      'RUN true',
      'FROM biuld',
      'COPY --from=buidl /a /a',
      'COPY --from=nginx:1 /b /b',
      'COPY --from=alpine /c /c',
    ),
  );
  const plan = planBuild(df);
  assert.equal(
    plan.notes.map((n) => n.message),
    [
      'Dockerfile:3: "biuld" is not a stage of this Dockerfile and is taken as an image name (did you mean build?)',
      'Dockerfile:4: "buidl" is not a stage of this Dockerfile and is taken as an image name (did you mean build?)',
    ],
  );
  assert.equal(plan.stages[1]!.images, ['buidl', 'nginx:1', 'alpine']);
});

test('a stage name used as a base only refers to earlier stages; a later name is an image', () => {
  const df = parseDockerfile(lines('FROM app', 'RUN true', 'FROM busybox AS app'));
  assert.equal(planBuild(df).stages[0]!.base, { kind: 'image', ref: 'app' });
});

test('global ARG defaults expand earlier global ARGs; --platform expands', () => {
  const df = parseDockerfile(
    lines('ARG REG=docker.io', 'ARG IMAGE=${REG}/library/busybox', 'ARG ARCH=arm64', 'FROM --platform=linux/$ARCH $IMAGE'),
  );
  const plan = planBuild(df, { buildArgs: { ARCH: 'amd64' } });
  assert.equal(plan.stages[0]!.base, { kind: 'image', ref: 'docker.io/library/busybox' });
  assert.is(plan.stages[0]!.platform, 'linux/amd64');
  assert.equal(
    [...plan.globalArgs],
    [
      ['REG', 'docker.io'],
      ['IMAGE', 'docker.io/library/busybox'],
      ['ARCH', 'amd64'],
    ],
  );
});

test("BuildKit's platform ARGs: in FROM as they are, in a stage once declared, overridable by a global ARG", () => {
  const df = parseDockerfile(
    lines(
      'FROM --platform=$BUILDPLATFORM golang AS build',
      'ARG TARGETOS TARGETARCH',
      'LABEL target=$TARGETOS/$TARGETARCH build=[$BUILDARCH]',
    ),
  );
  const plan = planBuild(df, {
    platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
    buildPlatform: { os: 'linux', architecture: 'amd64' },
  });
  assert.is(plan.stages[0]!.platform, 'linux/amd64');
  assert.is(plan.platformArgs.get('TARGETPLATFORM'), 'linux/arm/v7');
  assert.is(plan.platformArgs.get('TARGETVARIANT'), 'v7');
  const stage = evaluateStage(plan, 0, { config: null });
  assert.equal(stage.config.Labels, { target: 'linux/arm', build: '[]' });
  const host = planBuild(parseDockerfile(lines('ARG TARGETARCH=custom', 'FROM img:$TARGETARCH', 'ARG TARGETARCH', 'LABEL a=$TARGETARCH')));
  assert.equal(host.stages[0]!.base, { kind: 'image', ref: 'img:custom' });
  assert.equal(evaluateStage(host, 0, { config: null }).config.Labels, { a: 'custom' });
});

test.run();
