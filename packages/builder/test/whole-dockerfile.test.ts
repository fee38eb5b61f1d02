// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${x} is Dockerfile syntax here, not a template
import { evaluateStage, type ImageRuntimeConfig, parseDockerfile, planBuild, type Step } from '@berth/builder';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lines } from './helpers.js';

// A Dockerfile of the kind people write today: directives, global ARGs, a cached
// dependency stage, a heredoc script, a slim final stage with a health check.
const dockerfile = lines(
  '# syntax=docker/dockerfile:1',
  '# A two-stage build of a small Go service.',
  'ARG GO_VERSION=1.22',
  'ARG APP=server',
  '',
  'FROM golang:${GO_VERSION}-alpine AS build',
  'ARG APP',
  'WORKDIR /src',
  'COPY go.mod go.sum ./',
  'RUN --mount=type=cache,target=/go/pkg/mod \\',
  '    go mod download',
  'COPY . .',
  'RUN --mount=type=cache,target=/root/.cache/go-build <<EOF',
  'set -e',
  'CGO_ENABLED=0 go build -o /out/$APP ./cmd/$APP',
  'EOF',
  '',
  'FROM alpine:3.20',
  'ARG APP',
  'LABEL org.opencontainers.image.title=$APP',
  'RUN addgroup -S app && adduser -S -G app app',
  'COPY --from=build --chown=app:app /out/${APP} /usr/local/bin/${APP}',
  'USER app',
  'EXPOSE 8080',
  'HEALTHCHECK --interval=30s --timeout=3s CMD wget -qO- http://localhost:8080/healthz || exit 1',
  'ENTRYPOINT ["/usr/local/bin/server"]',
  'CMD ["--port", "8080"]',
);

const alpine: ImageRuntimeConfig = { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] };
const golang: ImageRuntimeConfig = {
  Env: ['PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'GOPATH=/go'],
  WorkingDir: '/go',
};

function summary(steps: Step[]): string[] {
  return steps.map((s) => {
    if (s.kind === 'run')
      return `${s.text} => run ${JSON.stringify(s.argv)} in ${s.workdir} as "${s.user}" [${s.mounts.map((m) => `${m.type}:${m.target}`).join(' ')}]`;
    if (s.kind === 'copy' || s.kind === 'add') {
      const from = s.from ? (s.from.kind === 'stage' ? ` from stage ${s.from.stage}` : ` from ${s.from.ref}`) : '';
      return `${s.text} => ${s.kind} ${s.sources.map((x) => (x.kind === 'path' ? x.path : `<<${x.name}`)).join(' ')} -> ${s.dest}${from}${s.chown ? ` chown ${s.chown}` : ''}`;
    }
    return `${s.text} => config`;
  });
}

test('a whole multi-stage Dockerfile: plan, steps, expansions and final config', () => {
  const plan = planBuild(parseDockerfile(dockerfile), { buildArgs: { GO_VERSION: '1.23' } });
  assert.equal(plan.needed, [0, 1]);
  assert.equal(plan.levels, [[0], [1]]);
  assert.equal(plan.stages[0]!.base, { kind: 'image', ref: 'golang:1.23-alpine' });
  assert.equal(plan.warnings, []);
  assert.equal(plan.globalArgSteps, ['Step 1/19 : ARG GO_VERSION=1.22', 'Step 2/19 : ARG APP=server']);

  const build = evaluateStage(plan, 0, { config: golang });
  assert.is(build.fromText, 'Step 3/19 : FROM golang:${GO_VERSION}-alpine AS build');
  assert.equal(summary(build.steps), [
    'Step 4/19 : ARG APP => config',
    'Step 5/19 : WORKDIR /src => config',
    'Step 6/19 : COPY go.mod go.sum ./ => copy go.mod go.sum -> ./',
    'Step 7/19 : RUN --mount=type=cache,target=/go/pkg/mod     go mod download => run ["/bin/sh","-c","go mod download"] in /src as "" [cache:/go/pkg/mod]',
    'Step 8/19 : COPY . . => copy . -> .',
    'Step 9/19 : RUN --mount=type=cache,target=/root/.cache/go-build <<EOF => run ["/bin/sh","-c","set -e\\nCGO_ENABLED=0 go build -o /out/$APP ./cmd/$APP\\n"] in /src as "" [cache:/root/.cache/go-build]',
  ]);
  const compile = build.steps[5]!;
  assert.ok(compile.kind === 'run' && compile.env.includes('APP=server'), 'the ARG reaches the script through the environment');

  const final = evaluateStage(plan, 1, { config: alpine });
  assert.equal(summary(final.steps), [
    'Step 11/19 : ARG APP => config',
    'Step 12/19 : LABEL org.opencontainers.image.title=$APP => config',
    'Step 13/19 : RUN addgroup -S app && adduser -S -G app app => run ["/bin/sh","-c","addgroup -S app && adduser -S -G app app"] in / as "" []',
    'Step 14/19 : COPY --from=build --chown=app:app /out/${APP} /usr/local/bin/${APP} => copy /out/server -> /usr/local/bin/server from stage 0 chown app:app',
    'Step 15/19 : USER app => config',
    'Step 16/19 : EXPOSE 8080 => config',
    'Step 17/19 : HEALTHCHECK --interval=30s --timeout=3s CMD wget -qO- http://localhost:8080/healthz || exit 1 => config',
    'Step 18/19 : ENTRYPOINT ["/usr/local/bin/server"] => config',
    'Step 19/19 : CMD ["--port", "8080"] => config',
  ]);
  assert.equal(final.config, {
    Env: alpine.Env,
    Cmd: ['--port', '8080'],
    OnBuild: null,
    Labels: { 'org.opencontainers.image.title': 'server' },
    User: 'app',
    ExposedPorts: { '8080/tcp': {} },
    Healthcheck: { Test: ['CMD-SHELL', 'wget -qO- http://localhost:8080/healthz || exit 1'], Interval: 30e9, Timeout: 3e9 },
    Entrypoint: ['/usr/local/bin/server'],
    ArgsEscaped: false,
  });
});

test('a second HEALTHCHECK notes that it overrides the first, as the classic builder prints', () => {
  const plan = planBuild(parseDockerfile(lines('FROM x', 'HEALTHCHECK CMD true', 'HEALTHCHECK NONE', 'HEALTHCHECK CMD ["a"]')));
  const steps = evaluateStage(plan, 0, { config: { Healthcheck: { Test: ['CMD', 'old'] } } }).steps;
  assert.equal(
    steps.map((s) => (s.kind === 'config' ? s.note : 'x')),
    ['Note: overriding previous HEALTHCHECK: [CMD old]', 'Note: overriding previous HEALTHCHECK: [CMD-SHELL true]', undefined],
  );
});

test.run();
