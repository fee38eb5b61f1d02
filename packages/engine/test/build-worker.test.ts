import { existsSync, promises as fs, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { RunStepFailed } from '@berth/builder';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUILD_STEP_LABEL, BuildCacheToken, BuildWorkerToken, type Engine, type EngineBuildWorker, ImageStoreToken } from '../src/index.js';
import { openTestEngine, startTestEngine, stopTestEngine } from './support/test-engine.js';

// The engine's side of a Dockerfile build, with real plugins: RUN steps as containers
// that are committed and removed, COPY steps written into a container's mounted root (or
// a scratch directory), config-only steps, failure and cancellation leaving nothing, and
// recovery of a step container a dead engine left.

interface Ctx {
  dir: string;
  engine: Engine;
  worker: EngineBuildWorker;
  base: string;
}

const test = suite<Ctx>('build worker');

test.before(async (ctx) => {
  Object.assign(ctx, await startTestEngine('build'));
  ctx.worker = ctx.engine.di.resolve(BuildWorkerToken);
  ctx.base = (await ctx.worker.baseImage('busybox', { pull: false })).id;
});

test.after((ctx) => stopTestEngine(ctx));

async function assertNoContainers(engine: Engine): Promise<void> {
  assert.equal(
    (await engine.containers.list({ all: true })).map((c) => c.Names),
    [],
    'no step container is left',
  );
}

test('a RUN step streams its output and leaves one more layer, with the given config and history line', async ({
  engine,
  worker,
  base,
}) => {
  const parent = await worker.image(base);
  const output: string[] = [];
  const made = await worker.run({
    parent: base,
    argv: ['/bin/sh', '-c', 'echo hello; echo oops >&2; mkdir /built; echo "$GREETING" > /built/f'],
    env: ['GREETING=hi there', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    imageConfig: { ...parent.config, Env: ['KEPT=1'] },
    history: { createdBy: '/bin/sh -c mkdir /built' },
    output: (stream, data) => output.push(`${stream}:${data.toString()}`),
  });
  assert.ok(output.includes('stdout:hello\n'), output.join('|'));
  assert.ok(output.includes('stderr:oops\n'), output.join('|'));
  assert.is(made.layerCount, parent.layerCount + 1);
  assert.equal(made.config.Env, ['KEPT=1'], 'the process env is not the image env');
  const history = await engine.images.history(made.id);
  assert.is(history[0]!.CreatedBy, '/bin/sh -c mkdir /built');
  await assertNoContainers(engine);

  // The layer holds the RUN's change: a container of the new image reads it.
  const { Id } = await engine.containers.create({ Image: made.id, Cmd: ['cat', '/built/f'] });
  const session = await engine.containers.attach(Id, { stdout: true, stream: true });
  const seen: Buffer[] = [];
  session.onOutput((_s, d) => seen.push(d));
  await engine.containers.start(Id);
  await engine.containers.wait(Id);
  await session.ended;
  assert.is(Buffer.concat(seen).toString(), 'hi there\n');
  await engine.containers.remove(Id, { force: true });
});

test('a RUN step runs as the given user in the given directory, and never through the image ENTRYPOINT', async ({ worker, base }) => {
  const withEntrypoint = await worker.configure({
    parent: base,
    imageConfig: { Entrypoint: ['/bin/false'], Cmd: null },
    history: { createdBy: '/bin/sh -c #(nop)  ENTRYPOINT ["/bin/false"]' },
  });
  let out = '';
  await worker.run({
    parent: withEntrypoint.id,
    argv: ['/bin/sh', '-c', 'id -u; pwd'],
    env: [],
    user: 'nobody',
    workingDir: '/tmp',
    imageConfig: withEntrypoint.config,
    history: { createdBy: '/bin/sh -c id -u; pwd' },
    output: (_s, d) => {
      out += d.toString();
    },
  });
  assert.is(out, '65534\n/tmp\n');
});

test('a RUN that exits non-zero fails with the classic builder message and leaves no container and no image', async ({
  engine,
  worker,
  base,
}) => {
  const before = (await engine.images.list({ all: true })).length;
  try {
    await worker.run({
      parent: base,
      argv: ['/bin/sh', '-c', 'touch /half; exit 3'],
      env: [],
      imageConfig: {},
      history: { createdBy: '/bin/sh -c exit 3' },
      output: () => undefined,
    });
    assert.unreachable('the step should fail');
  } catch (err) {
    assert.instance(err, RunStepFailed);
    assert.is((err as RunStepFailed).exitCode, 3);
    assert.is((err as Error).message, "The command '/bin/sh -c touch /half; exit 3' returned a non-zero code: 3");
  }
  await assertNoContainers(engine);
  assert.is((await engine.images.list({ all: true })).length, before);
});

test('a cancelled RUN is killed and leaves nothing', async ({ engine, worker, base }) => {
  const abort = new AbortController();
  const started = Date.now();
  const step = worker.run({
    parent: base,
    argv: ['/bin/sh', '-c', 'echo go; sleep 30'],
    env: [],
    imageConfig: {},
    history: { createdBy: '/bin/sh -c sleep 30' },
    output: () => abort.abort(),
    signal: abort.signal,
  });
  const err = await step.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err, 'the cancelled step rejects');
  assert.ok(Date.now() - started < 10_000, 'it did not wait for the command');
  await assertNoContainers(engine);
});

test('a COPY step writes into the mounted parent root; the layer holds only what it wrote', async ({ engine, worker, base }) => {
  const parent = await worker.image(base);
  const made = await worker.addFiles({
    parent: base,
    write: async (root) => {
      assert.ok(existsSync(path.join(root, 'bin/busybox')), 'the parent content is there');
      mkdirSync(path.join(root, 'app'));
      writeFileSync(path.join(root, 'app/main.txt'), 'copied\n');
    },
    imageConfig: parent.config,
    history: { createdBy: 'COPY file:abc in /app/' },
  });
  assert.is(made.layerCount, parent.layerCount + 1);
  const store = engine.di.resolve(ImageStoreToken);
  const record = await store.get(made.id);
  const layer = record.layers.at(-1)!;
  assert.ok(layer.size < 4096, `the new layer is only the copied file (${layer.size} bytes)`);
  await assertNoContainers(engine);
});

test('on scratch, a COPY makes a first layer and a config step an image without layers', async ({ engine, worker }) => {
  const first = await worker.addFiles({
    parent: null,
    write: async (root) => writeFileSync(path.join(root, 'hello'), 'world\n', { mode: 0o644 }),
    imageConfig: { Cmd: ['/hello'] },
    history: { createdBy: 'COPY file:def in /' },
  });
  assert.is(first.layerCount, 1);
  assert.equal(first.config.Cmd, ['/hello']);
  const empty = await worker.configure({
    parent: null,
    imageConfig: { Cmd: ['x'] },
    history: { createdBy: '/bin/sh -c #(nop)  CMD ["x"]' },
  });
  assert.is(empty.layerCount, 0);
  const history = await engine.images.history(empty.id);
  assert.is(history.length, 1);
  assert.equal(readdirSync(path.join(engine.config.dataRoot, 'builder/scratch')), [], 'the scratch directory went with the step');
});

test('the same config step twice at the same time gives the same image', async ({ worker, base }) => {
  const created = new Date('2020-01-01T00:00:00Z');
  const a = await worker.configure({ parent: base, imageConfig: { Env: ['A=1'] }, history: { createdBy: 'ENV A=1', created } });
  const b = await worker.configure({ parent: base, imageConfig: { Env: ['A=1'] }, history: { createdBy: 'ENV A=1', created } });
  assert.is(a.id, b.id);
});

test('a FROM that is not local is pulled, and a pull that cannot be done fails naming the registry', async ({ worker }) => {
  try {
    await worker.baseImage('127.0.0.1:9/nosuch/image:1', { pull: false });
    assert.unreachable('it should fail');
  } catch (err) {
    assert.match(String(err), 'cannot reach the registry 127.0.0.1:9');
  }
});

test('the layer cache finds the image a key made, across a restart, and forgets an image removed since', async (ctx) => {
  const made = await ctx.worker.configure({ parent: ctx.base, imageConfig: { Env: ['CACHED=1'] }, history: { createdBy: 'ENV CACHED=1' } });
  assert.is(await ctx.worker.cached('key-1'), undefined, 'nothing is cached before');
  await ctx.worker.remember('key-1', made.id);
  assert.is((await ctx.worker.cached('key-1'))?.id, made.id);
  assert.is(await ctx.worker.cached('key-2'), undefined, 'another key misses');
  await ctx.engine.close();
  ctx.engine = await openTestEngine(ctx.dir);
  ctx.worker = ctx.engine.di.resolve(BuildWorkerToken);
  assert.is((await ctx.worker.cached('key-1'))?.id, made.id, 'the cache survives a restart');
  await ctx.engine.images.remove(made.id);
  assert.is(await ctx.worker.cached('key-1'), undefined, 'an entry whose image went is a miss');
});

test('the layer cache notes each use in memory and writes the uses in a batch; a removed entry is not written back', async (ctx) => {
  const cache = ctx.engine.di.resolve(BuildCacheToken);
  const made = await ctx.worker.configure({ parent: ctx.base, imageConfig: { Env: ['USED=1'] }, history: { createdBy: 'ENV USED=1' } });
  await ctx.worker.remember('key-used', made.id);
  const entryOf = async () => (await cache.entries()).find((e) => e.key === 'key-used');
  assert.is((await entryOf())?.usageCount, undefined, 'never used yet');
  for (let i = 0; i < 3; i++) assert.is((await ctx.worker.cached('key-used'))?.id, made.id);
  const listed = await entryOf();
  assert.is(listed?.usageCount, 3, 'entries() sees the uses not yet written');
  const file = path.join(cache.dir, `${listed!.id}.json`);
  const onDisk = async () => JSON.parse(await fs.readFile(file, 'utf8')) as { usageCount?: number; lastUsed?: string };
  const until = Date.now() + 2000;
  while ((await onDisk()).usageCount !== 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.is((await onDisk()).usageCount, 3, 'the batch of uses reached the disk');
  assert.ok((await onDisk()).lastUsed, 'with the last use');
  // A use, then the entry removed before its batch is written: the file stays gone.
  await ctx.worker.cached('key-used');
  await cache.remove(listed!.id);
  await new Promise((r) => setTimeout(r, 200));
  assert.is(existsSync(file), false, 'a removed entry is not written back by a pending batch');
  assert.is(await ctx.worker.cached('key-used'), undefined, 'and it is a miss');
  await ctx.engine.images.remove(made.id);
});

test('an image a build retains cannot be removed or pruned until released', async ({ engine, worker, base }) => {
  const made = await worker.configure({ parent: base, imageConfig: { Env: ['HELD=1'] }, history: { createdBy: 'ENV HELD=1' } });
  const release = worker.retain(made.id);
  try {
    await engine.images.remove(made.id);
    assert.unreachable('the rmi should be refused');
  } catch (err) {
    assert.match(String(err), 'image is being used by a build in progress');
  }
  const pruned = await engine.images.prune();
  assert.not.ok(
    (pruned.ImagesDeleted ?? []).some((d) => 'Deleted' in d && d.Deleted === made.id),
    'prune passes a held image by',
  );
  release();
  release(); // a second release changes nothing
  await engine.images.remove(made.id);
  assert.is(
    (await engine.images.list({ all: true })).some((i) => i.Id === made.id),
    false,
  );
});

test("the next engine removes a build step's container a dead engine left, and the scratch directories", async (ctx) => {
  const { Id } = await ctx.engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '30'], Labels: { [BUILD_STEP_LABEL]: 'true' } });
  await ctx.engine.containers.start(Id);
  const scratch = path.join(ctx.engine.config.dataRoot, 'builder/scratch/step-left');
  mkdirSync(scratch, { recursive: true });
  await ctx.engine.close(); // the shim keeps the step running, as after a kill -9
  ctx.engine = await openTestEngine(ctx.dir);
  ctx.worker = ctx.engine.di.resolve(BuildWorkerToken);
  await assertNoContainers(ctx.engine);
  assert.not.ok(existsSync(scratch));
});

test.run();
