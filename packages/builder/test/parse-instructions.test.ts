import { type Instruction, parseDockerfile } from '@berth/builder';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lines } from './helpers.js';

/** The instructions of a one-stage Dockerfile after `FROM busybox`. */
function body(...text: string[]): Instruction[] {
  return parseDockerfile(lines('FROM busybox', ...text)).stages[0]!.instructions;
}
function one<K extends Instruction['keyword']>(keyword: K, text: string): Extract<Instruction, { keyword: K }> {
  const [instruction] = body(text);
  assert.is(instruction!.keyword, keyword);
  return instruction as Extract<Instruction, { keyword: K }>;
}

test('FROM: image, AS name (lower-cased), --platform, scratch, ARG before FROM', () => {
  const df = parseDockerfile(
    lines('ARG V=1', 'ARG OTHER', 'FROM --platform=linux/amd64 busybox:$V AS Build', 'FROM scratch', 'from build as final'),
  );
  assert.equal(
    df.metaArgs.flatMap((a) => a.args),
    [{ name: 'V', default: '1' }, { name: 'OTHER' }],
  );
  const [a, b, c] = df.stages.map((s) => s.from);
  assert.equal([a!.image, a!.name, a!.platform], ['busybox:$V', 'build', 'linux/amd64']);
  assert.equal([b!.image, b!.name], ['scratch', undefined]);
  assert.equal([c!.image, c!.name, c!.code], ['build', 'final', 'from build as final']);
  assert.equal(
    df.stages.map((s) => s.index),
    [0, 1, 2],
  );
});

test('RUN: shell form keeps the text; exec form is the JSON array; an invalid JSON array is shell form', () => {
  assert.equal(one('RUN', 'RUN echo "hi there" && true').command, { json: false, args: ['echo "hi there" && true'], heredocs: [] });
  assert.equal(one('RUN', 'RUN ["echo", "hi there"]').command, { json: true, args: ['echo', 'hi there'], heredocs: [] });
  assert.equal(one('RUN', "RUN ['echo', 'single quotes are not JSON']").command.json, false);
  assert.equal(one('RUN', 'RUN [ "unterminated"').command, { json: false, args: ['[ "unterminated"'], heredocs: [] });
  assert.equal(one('RUN', 'RUN {"an":"object"}').command.json, false);
});

test('RUN flags: --mount (repeated, every type), --network', () => {
  const run = one(
    'RUN',
    'RUN --mount=type=cache,target=/root/.cache,sharing=locked --mount=type=secret,id=npm --mount=type=tmpfs,target=/tmp,size=64m --mount=type=bind,from=build,source=/out,target=/in --network=none make',
  );
  assert.equal(
    run.mounts.map((m) => m.spec),
    [
      'type=cache,target=/root/.cache,sharing=locked',
      'type=secret,id=npm',
      'type=tmpfs,target=/tmp,size=64m',
      'type=bind,from=build,source=/out,target=/in',
    ],
  );
  assert.is(run.network, 'none');
  assert.equal(run.command.args, ['make']);
});

test('RUN heredocs are attached to the command', () => {
  const [run] = body('RUN <<EOF bash', 'echo hi', 'EOF');
  assert.is(run!.keyword, 'RUN');
  if (run!.keyword !== 'RUN') return;
  assert.equal(run!.command.args, ['<<EOF bash']);
  assert.is(run!.command.heredocs[0]!.content, 'echo hi\n');
});

test('CMD and ENTRYPOINT: both forms; SHELL: JSON only', () => {
  assert.equal(one('CMD', 'CMD ["nginx", "-g", "daemon off;"]').command.args, ['nginx', '-g', 'daemon off;']);
  assert.equal(one('CMD', 'CMD nginx -g "daemon off;"').command, { json: false, args: ['nginx -g "daemon off;"'], heredocs: [] });
  assert.equal(one('ENTRYPOINT', 'ENTRYPOINT ["/entry.sh"]').command.json, true);
  assert.equal(one('CMD', 'CMD').command.args, []);
  assert.equal(one('SHELL', 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]').shell, ['/bin/bash', '-o', 'pipefail', '-c']);
});

test('ENV: k=v pairs (quotes kept for expansion) and the legacy "ENV key rest of line" form', () => {
  assert.equal(one('ENV', 'ENV A=1 B="two words" C=three\\ words').pairs, [
    { key: 'A', value: '1' },
    { key: 'B', value: '"two words"' },
    { key: 'C', value: 'three\\ words' },
  ]);
  assert.equal(one('ENV', 'ENV PATH /usr/local/bin:$PATH and more').pairs, [{ key: 'PATH', value: '/usr/local/bin:$PATH and more' }]);
});

test('ARG: with and without defaults, several per line', () => {
  assert.equal(one('ARG', 'ARG A B=2 C="x y"').args, [{ name: 'A' }, { name: 'B', default: '2' }, { name: 'C', default: '"x y"' }]);
});

test('LABEL, EXPOSE, WORKDIR, USER, STOPSIGNAL, MAINTAINER keep their arguments as written', () => {
  assert.equal(one('LABEL', 'LABEL "com.example.vendor"="ACME" version=1.0').pairs, [
    { key: '"com.example.vendor"', value: '"ACME"' },
    { key: 'version', value: '1.0' },
  ]);
  assert.equal(one('EXPOSE', 'EXPOSE 80 443/tcp 53/udp $PORT').ports, ['$PORT', '443/tcp', '53/udp', '80']);
  assert.is(one('WORKDIR', 'WORKDIR /app dir').path, '/app dir');
  assert.is(one('USER', 'USER app:app').user, 'app:app');
  assert.is(one('STOPSIGNAL', 'STOPSIGNAL SIGQUIT').signal, 'SIGQUIT');
  assert.is(one('MAINTAINER', 'MAINTAINER Jane <jane@example.com>').maintainer, 'Jane <jane@example.com>');
});

test('VOLUME: JSON array and plain list', () => {
  assert.equal(one('VOLUME', 'VOLUME ["/data", "/logs"]').paths, ['/data', '/logs']);
  assert.equal(one('VOLUME', 'VOLUME /data /logs').paths, ['/data', '/logs']);
});

test('COPY: sources and destination, JSON form, every flag, heredoc sources in order', () => {
  const copy = one('COPY', 'COPY --from=build --chown=1000:1000 --chmod=0755 --link --parents --exclude=*.md --exclude=tmp a b/ /dest/');
  assert.equal(copy.sources, [
    { kind: 'path', path: 'a' },
    { kind: 'path', path: 'b/' },
  ]);
  assert.equal(
    [copy.dest, copy.from, copy.chown, copy.chmod, copy.link, copy.parents, copy.exclude],
    ['/dest/', 'build', '1000:1000', '0755', true, true, ['*.md', 'tmp']],
  );
  assert.equal(one('COPY', 'COPY ["a b", "/c d/"]').sources, [{ kind: 'path', path: 'a b' }]);
  const [heredoc] = body('COPY <<-EOT <<"RAW" plain /etc/', '\tindented $X', 'EOT', 'raw $X', 'RAW');
  if (heredoc!.keyword !== 'COPY') return assert.unreachable();
  assert.equal(heredoc!.sources, [
    { kind: 'heredoc', name: 'EOT', content: 'indented $X\n', expand: true },
    { kind: 'heredoc', name: 'RAW', content: 'raw $X\n', expand: false },
    { kind: 'path', path: 'plain' },
  ]);
});

test('ADD: URL and git sources, --keep-git-dir, --checksum, --unpack', () => {
  const add = one(
    'ADD',
    'ADD --keep-git-dir=true --checksum=sha256:abc --unpack=false https://example.com/a.tar.gz git@github.com:x/y.git /src/',
  );
  assert.equal(
    [add.sources.map((s) => (s.kind === 'path' ? s.path : '')), add.keepGitDir, add.checksum, add.unpack, add.link],
    [['https://example.com/a.tar.gz', 'git@github.com:x/y.git'], true, 'sha256:abc', false, false],
  );
});

test('HEALTHCHECK: NONE, CMD shell and exec forms, options in nanoseconds', () => {
  assert.equal(one('HEALTHCHECK', 'HEALTHCHECK NONE').health.test, ['NONE']);
  const h = one(
    'HEALTHCHECK',
    'HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --start-interval=2s --retries=3 CMD curl -f http://localhost/',
  ).health;
  assert.equal(h, {
    test: ['CMD-SHELL', 'curl -f http://localhost/'],
    interval: 30e9,
    timeout: 90e9,
    startPeriod: 500e6,
    startInterval: 2e9,
    retries: 3,
  });
  assert.equal(one('HEALTHCHECK', 'HEALTHCHECK cmd ["/check", "-q"]').health.test, ['CMD', '/check', '-q']);
});

test('ONBUILD: the trigger parsed, the expression kept as the image stores it', () => {
  const onbuild = one('ONBUILD', 'ONBUILD   RUN echo "hello" $X');
  assert.is(onbuild.expression, 'RUN echo "hello" $X');
  assert.is(onbuild.trigger.keyword, 'RUN');
  const [withHeredoc] = body('ONBUILD COPY <<EOF /x', 'data', 'EOF');
  if (withHeredoc!.keyword !== 'ONBUILD') return assert.unreachable();
  assert.is(withHeredoc!.expression, 'COPY <<EOF /x\ndata\nEOF');
});

test('instructions are case-insensitive and keep their source line range', () => {
  const instructions = body('run echo \\', '  continued', 'Copy a b');
  assert.equal(
    instructions.map((i) => [i.keyword, i.location.startLine, i.location.endLine]),
    [
      ['RUN', 2, 3],
      ['COPY', 4, 4],
    ],
  );
});

test('a quoted flag value and a lone -- before the arguments', () => {
  const copy = one('COPY', 'COPY --chown="user name" -- --weird-name /dest');
  assert.is(copy.chown, 'user name');
  assert.equal(copy.sources, [{ kind: 'path', path: '--weird-name' }]);
});

test.run();
