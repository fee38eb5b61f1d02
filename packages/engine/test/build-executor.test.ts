import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { type BuildOptions, openDirectoryContext, RunStepFailed, runBuild } from '@berth/builder';
import { withTimeout } from '@berth/testkit/timeout';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BuildWorkerToken, type Engine, type EngineBuildWorker } from '../src/index.js';
import { startTestEngine, stopTestEngine } from './support/test-engine.js';

// Dockerfile builds end to end inside the engine: @berth/builder's executor driving the
// engine's build worker with real containers, layers and the layer cache.

interface Ctx {
  dir: string;
  engine: Engine;
  worker: EngineBuildWorker;
}

const test = suite<Ctx>('build executor');

test.before(async (ctx) => {
  Object.assign(ctx, await startTestEngine('executor'));
  ctx.worker = ctx.engine.di.resolve(BuildWorkerToken);
});

test.after((ctx) => stopTestEngine(ctx));

/** A context directory with these files. */
function contextDir(ctx: Ctx, name: string, files: Record<string, string>): string {
  const dir = path.join(ctx.dir, name);
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

async function build(ctx: Ctx, dir: string, options: Partial<BuildOptions> = {}): Promise<{ id: string; text: string }> {
  const context = await openDirectoryContext(dir);
  let text = '';
  try {
    const { imageId } = await runBuild(
      ctx.worker,
      context,
      { workDir: path.join(ctx.dir, 'work'), ...options },
      { stream: (t) => (text += t), progress: () => undefined, aux: () => undefined },
    );
    return { id: imageId, text };
  } catch (err) {
    (err as Error).message += `\n--- output:\n${text}`;
    throw err;
  } finally {
    await context.dispose();
  }
}

/** Run `cmd` in a container of `image`; its stdout. */
async function runIn(engine: Engine, image: string, cmd: string[]): Promise<string> {
  const { Id } = await engine.containers.create({ Image: image, Cmd: cmd });
  try {
    const session = await engine.containers.attach(Id, { stdout: true, stderr: true, stream: true });
    const seen: Buffer[] = [];
    session.onOutput((_s, d) => seen.push(d));
    await engine.containers.start(Id);
    await engine.containers.wait(Id);
    await session.ended;
    return Buffer.concat(seen).toString();
  } finally {
    await engine.containers.remove(Id, { force: true });
  }
}

const dockerfile = `FROM busybox
ENV GREETING=hello
RUN echo "$GREETING from RUN" > /greeting
COPY hello.txt /app/
WORKDIR /app
CMD ["cat", "/greeting", "hello.txt"]
`;

test('a Dockerfile builds into an image whose layers and config are the steps, streamed as the classic builder does', async (ctx) => {
  const dir = contextDir(ctx, 'simple', { Dockerfile: dockerfile, 'hello.txt': 'from the context\n' });
  const { id, text } = await build(ctx, dir, { tags: ['built:1'] });
  assert.match(text, 'Step 1/6 : FROM busybox\n');
  assert.match(text, 'Step 3/6 : RUN echo "$GREETING from RUN" > /greeting\n ---> Running in ');
  assert.match(text, 'Removing intermediate container ');
  assert.match(text, `Successfully built ${id.slice(7, 19)}\nSuccessfully tagged built:1\n`);
  assert.is(await runIn(ctx.engine, 'built:1', []), 'hello from RUN\nfrom the context\n');
  const inspect = await ctx.engine.images.inspect('built:1');
  assert.is(inspect.Config?.WorkingDir, '/app');
  assert.ok(inspect.Config?.Env?.includes('GREETING=hello'));
  assert.equal((await ctx.engine.containers.list({ all: true })).length, 0, 'no step container is left');
});

test('a second build takes every step from the cache; a changed file rebuilds from its COPY on', async (ctx) => {
  const dir = contextDir(ctx, 'cached', { Dockerfile: dockerfile, 'hello.txt': 'one\n' });
  const first = await build(ctx, dir);
  const again = await build(ctx, dir);
  assert.is(again.id, first.id);
  assert.is(again.text.split(' ---> Using cache\n').length - 1, 5, again.text);
  writeFileSync(path.join(dir, 'hello.txt'), 'two\n');
  const changed = await build(ctx, dir);
  assert.is.not(changed.id, first.id);
  assert.is(changed.text.split(' ---> Using cache\n').length - 1, 2, 'ENV and RUN come from the cache, not COPY and after');
  assert.is(await runIn(ctx.engine, changed.id, []), 'hello from RUN\ntwo\n');
  const fresh = await build(ctx, dir, { noCache: true });
  assert.not.match(fresh.text, 'Using cache');
});

test('a multi-stage build copies from an earlier stage; --target builds only what the target needs', async (ctx) => {
  const dir = contextDir(ctx, 'stages', {
    Dockerfile: `FROM busybox AS builder
RUN mkdir /out && echo built > /out/artifact
FROM busybox AS unused
RUN exit 7
FROM busybox
COPY --from=builder /out/artifact /artifact
CMD ["cat", "/artifact"]
`,
  });
  const { id, text } = await build(ctx, dir, { target: 'builder' });
  assert.not.match(text, 'exit 7');
  assert.is(await runIn(ctx.engine, id, ['cat', '/out/artifact']), 'built\n');
  // Without --target the last stage is the target: it needs `builder`, never `unused`.
  const last = await build(ctx, dir);
  assert.not.match(last.text, 'exit 7');
  assert.is(await runIn(ctx.engine, last.id, []), 'built\n');
});

test('a failing RUN fails the build with its exit code and leaves no container and no tag', async (ctx) => {
  const dir = contextDir(ctx, 'failing', { Dockerfile: 'FROM busybox\nRUN echo before; exit 3\n' });
  try {
    await build(ctx, dir, { tags: ['never:1'] });
    assert.unreachable('the build should fail');
  } catch (err) {
    assert.instance(err, RunStepFailed);
    assert.is((err as RunStepFailed).exitCode, 3);
  }
  assert.equal((await ctx.engine.containers.list({ all: true })).length, 0);
  assert.not.ok((await ctx.engine.images.list()).some((i) => i.RepoTags?.includes('never:1')));
});

test('independent stages build at the same time, and the first that fails stops the others', async (ctx) => {
  const dir = contextDir(ctx, 'parallel', {
    Dockerfile: `FROM busybox AS slow
RUN sleep 20
FROM busybox AS broken
RUN sleep 0.3; exit 4
FROM busybox
COPY --from=slow /bin/busybox /a
COPY --from=broken /bin/busybox /b
`,
  });
  const started = Date.now();
  try {
    await build(ctx, dir);
    assert.unreachable('the build should fail');
  } catch (err) {
    assert.instance(err, RunStepFailed);
    assert.is((err as RunStepFailed).exitCode, 4);
  }
  assert.ok(Date.now() - started < 10_000, `the slow stage was stopped (${Date.now() - started} ms)`);
  assert.equal((await ctx.engine.containers.list({ all: true })).length, 0);
});

test('a file .dockerignore excludes cannot be copied, and the error names it', async (ctx) => {
  const dir = contextDir(ctx, 'ignored', {
    Dockerfile: 'FROM busybox\nCOPY secret.txt /\n',
    'secret.txt': 'x',
    '.dockerignore': 'secret.txt\n',
  });
  try {
    await build(ctx, dir);
    assert.unreachable('the build should fail');
  } catch (err) {
    assert.match(String(err), 'Dockerfile:2: file not found in the build context or excluded by .dockerignore: secret.txt');
  }
});

test('an error of a step names the Dockerfile line; a missing --from image is named', async (ctx) => {
  const dir = contextDir(ctx, 'located', {
    Dockerfile: 'FROM busybox\nRUN true\nCOPY ../outside /x\n',
  });
  try {
    await build(ctx, dir);
    assert.unreachable('the build should fail');
  } catch (err) {
    assert.match((err as Error).message, /^Dockerfile:3: forbidden path outside the build context: \.\.\/outside\n/);
    assert.is((err as { code?: string }).code, 'InvalidArgument');
  }
  const fromImage = contextDir(ctx, 'from-image', { Dockerfile: 'FROM busybox\nCOPY --from=127.0.0.1:9/nosuch:1 /x /x\n' });
  try {
    await build(ctx, fromImage);
    assert.unreachable('the build should fail');
  } catch (err) {
    assert.match((err as Error).message, /^Dockerfile:2: .*127\.0\.0\.1:9/);
  }
});

test('with SOURCE_DATE_EPOCH, two builds without the cache give the same image id', async (ctx) => {
  const dir = contextDir(ctx, 'reproducible', {
    Dockerfile: 'FROM busybox\nRUN mkdir -p /out && echo made > /out/file && touch /out/now\nCOPY data.txt /out/\nENV DONE=1\n',
    'data.txt': 'data\n',
  });
  const options = { noCache: true, sourceDateEpoch: 1_700_000_000 };
  const one = await build(ctx, dir, options);
  await new Promise((r) => setTimeout(r, 1100)); // a second later: every mtime a step sets is different
  const two = await build(ctx, dir, options);
  assert.is(two.id, one.id);
  const inspect = await ctx.engine.images.inspect(one.id);
  assert.is(inspect.Created, new Date(1_700_000_000_000).toISOString());
  const plain = await build(ctx, dir, { noCache: true });
  assert.is.not(plain.id, one.id, 'without it the times differ');
});

test(
  'RUN --mount: a cache kept between builds, a bind of the context or of a stage, a tmpfs; none of them in the image',
  withTimeout(20_000, async (ctx) => {
    const dir = contextDir(ctx, 'mounts', {
      Dockerfile: `FROM busybox AS tools
RUN mkdir /out && echo tool > /out/tool
FROM busybox
RUN --mount=type=cache,target=/var/cache/app,id=berth-test-cache ls /var/cache/app; date +%N > /var/cache/app/stamp-$$
RUN --mount=type=bind,source=data.txt,target=/in/data.txt cat /in/data.txt > /data-copy
RUN --mount=type=bind,from=tools,source=/out,target=/tools cat /tools/tool > /tool-copy
RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/x && ls /scratch > /scratch-list
`,
      'data.txt': 'one\n',
    });
    const first = await build(ctx, dir);
    const second = await build(ctx, dir, { noCache: true });
    // The cache mount's content is there for the next build: the second listing shows the first build's stamp.
    assert.match(second.text, /stamp-\d+/);
    assert.is(await runIn(ctx.engine, second.id, ['cat', '/data-copy', '/tool-copy', '/scratch-list']), 'one\ntool\nx\n');
    const listing = await runIn(ctx.engine, second.id, ['sh', '-c', 'ls -d /var/cache/app /in /tools /scratch 2>&1 || true']);
    assert.match(listing, 'ls: /var/cache/app: No such file or directory', 'the cache mount point was not committed');
    assert.match(listing, 'ls: /in: No such file or directory');
    assert.match(listing, 'ls: /tools: No such file or directory');
    assert.match(listing, 'ls: /scratch: No such file or directory');
    // A bound context file's content is part of the step's cache key.
    writeFileSync(path.join(dir, 'data.txt'), 'two\n');
    const changed = await build(ctx, dir);
    assert.is(await runIn(ctx.engine, changed.id, ['cat', '/data-copy']), 'two\n');
    assert.is.not(changed.id, first.id);
  }),
);

test("the parser's and the plan's warnings are shown before the first step", async (ctx) => {
  // The last stage is not built (--target builder): nothing is pulled for its misspelt base.
  const dir = contextDir(ctx, 'warnings', {
    Dockerfile: 'FROM busybox AS builder\nRUN echo one \\\n\n  two\nFROM buidler\n',
  });
  const { text } = await build(ctx, dir, { target: 'builder' });
  const first = text.indexOf('Step 1/');
  assert.ok(first > 0, text);
  assert.match(text.slice(0, first), '[WARNING]: Empty continuation line found in: RUN echo one');
  assert.match(
    text.slice(0, first),
    '[WARNING]: Dockerfile:5: "buidler" is not a stage of this Dockerfile and is taken as an image name (did you mean builder?)',
  );
  assert.match(text, 'one two');
});

test('ADD --checksum: a download that hashes to something else fails the step; the right one is added', async (ctx) => {
  const body = 'downloaded\n';
  const server = http.createServer((_req, res) => res.end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.txt`;
    const right = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const wrong = `sha256:${'0'.repeat(64)}`;
    const bad = contextDir(ctx, 'checksum-bad', { Dockerfile: `FROM busybox\nADD --checksum=${wrong} ${url} /f\n` });
    const failed = await build(ctx, bad).catch((err: Error) => err.message);
    assert.match(String(failed), `Dockerfile:2: checksum of ${url} is ${right}, not the expected ${wrong}`);
    const good = contextDir(ctx, 'checksum-good', { Dockerfile: `FROM busybox\nADD --checksum=${right} ${url} /f\n` });
    const { id } = await build(ctx, good);
    assert.is(await runIn(ctx.engine, id, ['cat', '/f']), body);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('MAINTAINER is the author of the images from its line on', async (ctx) => {
  const dir = contextDir(ctx, 'maintainer', { Dockerfile: 'FROM busybox\nENV A=1\nMAINTAINER berth team <team@example.org>\nRUN true\n' });
  const { id } = await build(ctx, dir);
  assert.is((await ctx.engine.images.inspect(id)).Author, 'berth team <team@example.org>');
});

test('WORKDIR makes its directory in the image', async (ctx) => {
  const dir = contextDir(ctx, 'workdir', { Dockerfile: 'FROM busybox\nWORKDIR /srv/app/data\nCMD ["pwd"]\n' });
  const { id } = await build(ctx, dir);
  assert.is(await runIn(ctx.engine, id, ['stat', '-c', '%U %a', '/srv/app/data']), 'root 755\n');
  assert.is(await runIn(ctx.engine, id, []), '/srv/app/data\n');
});

test("a secret mount shows the build's secret as a file and a variable, and leaves no trace in the image", async (ctx) => {
  const dir = contextDir(ctx, 'secret-given', {
    Dockerfile:
      'FROM busybox\nRUN --mount=type=secret,id=token,env=TOKEN,mode=0440,uid=65534 test "$(cat /run/secrets/token)" = s3cret && test "$TOKEN" = s3cret && stat -c "%a %u" /run/secrets/token\n',
  });
  const secretsDir = path.join(ctx.dir, 'secrets');
  const { id, text } = await build(ctx, dir, { secrets: { values: new Map([['token', Buffer.from('s3cret')]]), dir: secretsDir } });
  assert.match(text, '440 65534');
  assert.is(
    await runIn(ctx.engine, id, ['sh', '-c', 'ls /run/secrets 2>&1; env | grep -c TOKEN']),
    'ls: /run/secrets: No such file or directory\n0\n',
  );
  assert.equal(readdirSync(secretsDir), [], 'the secret files went with the step');
});

test('a RUN heredoc with a #! line runs as a script; a required secret is refused by name', async (ctx) => {
  const dir = contextDir(ctx, 'heredoc', {
    Dockerfile: 'FROM busybox\nRUN <<EOF\n#!/bin/sh\necho "from a script" > /script-ran\nEOF\n',
  });
  const { id } = await build(ctx, dir);
  assert.is(await runIn(ctx.engine, id, ['cat', '/script-ran']), 'from a script\n');
  const secret = contextDir(ctx, 'secret', {
    Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=token,required=true cat /run/secrets/token\n',
  });
  try {
    await build(ctx, secret);
    assert.unreachable('the build should fail');
  } catch (err) {
    assert.match(String(err), 'type=secret,id=token is required, but the build was given no secret token');
  }
  assert.equal((await ctx.engine.containers.list({ all: true })).length, 0);
});

test('the build cache in system df, and builder prune: unnamed builds first, --keep-storage, all', async (ctx) => {
  const builds = ctx.engine.builds;
  await builds.prune({ all: true });
  const named = contextDir(ctx, 'df-named', { Dockerfile: 'FROM busybox\nRUN head -c 100000 /dev/zero > /named.bin\n' });
  const unnamed = contextDir(ctx, 'df-unnamed', { Dockerfile: 'FROM busybox\nRUN head -c 200000 /dev/zero > /unnamed.bin\nENV X=1\n' });
  await build(ctx, named, { tags: ['df-named:1'] });
  const loose = await build(ctx, unnamed);
  const records = await builds.diskUsage();
  assert.is(records.length, 3, JSON.stringify(records));
  const run100 = records.find((r) => r.Description.includes('named.bin'))!;
  assert.ok(run100.Shared, 'a named image is built on it');
  assert.ok(run100.Size >= 100_000, String(run100.Size));
  const run200 = records.find((r) => r.Description.includes('unnamed.bin'))!;
  assert.not.ok(run200.Shared);
  assert.ok(run200.Size >= 200_000);
  assert.is(records.find((r) => r.Description.includes('ENV'))!.Size, 0, 'a config step adds no bytes');

  const pruned = await builds.prune({});
  assert.is(pruned.CachesDeleted?.length, 2, "the unnamed build's two steps");
  assert.ok(pruned.SpaceReclaimed >= 200_000, String(pruned.SpaceReclaimed));
  assert.not.ok(
    (await ctx.engine.images.list({ all: true })).some((i) => i.Id === loose.id),
    'its image went too',
  );
  assert.is((await builds.diskUsage()).length, 1);
  assert.is((await builds.prune({ keepStorage: 1 << 30 })).CachesDeleted, null, 'nothing past what --keep-storage keeps');
  const all = await builds.prune({ all: true });
  assert.is(all.CachesDeleted?.length, 1);
  assert.is((await ctx.engine.images.inspect('df-named:1')).RepoTags[0], 'df-named:1', 'a named image stays');
  await ctx.engine.images.remove('df-named:1');
});

test('--label adds a last step; build args reach RUN', async (ctx) => {
  const dir = contextDir(ctx, 'labels', { Dockerfile: 'FROM busybox\nARG WHO=nobody\nRUN echo "hi $WHO" > /who\n' });
  const { id, text } = await build(ctx, dir, { labels: { team: 'core' }, buildArgs: { WHO: 'berth' } });
  assert.match(text, 'Step 4/4 : LABEL team=core\n');
  assert.is((await ctx.engine.images.inspect(id)).Config?.Labels?.team, 'core');
  assert.is(await runIn(ctx.engine, id, ['cat', '/who']), 'hi berth\n');
});

test.run();
