import type { ImageDeleteEntry } from '@berth/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BuildWorkerToken, type Engine, type EngineBuildWorker } from '../src/index.js';
import { startTestEngine, stopTestEngine } from './support/test-engine.js';

// Images built on images (a build's steps): dockerd's rules for intermediate images in
// `images`, the dangling filter, rmi (a child keeps its parent; untagged parents go with
// the image unless --no-prune) and prune.

interface Ctx {
  dir: string;
  engine: Engine;
  worker: EngineBuildWorker;
  base: string;
}

const test = suite<Ctx>('image parents');

test.before(async (ctx) => {
  Object.assign(ctx, await startTestEngine('parents'));
  ctx.worker = ctx.engine.di.resolve(BuildWorkerToken);
  ctx.base = (await ctx.worker.image((await ctx.engine.images.inspect('busybox')).Id)).id;
});

test.after((ctx) => stopTestEngine(ctx));

/** base → a → b, each a config step; b named `name` when given. Returns [a, b]. */
async function chain(ctx: Ctx, label: string, name?: string): Promise<[string, string]> {
  const a = await ctx.worker.configure({
    parent: ctx.base,
    imageConfig: { Env: [`STEP=${label}-a`] },
    history: { createdBy: `ENV ${label}-a` },
  });
  const b = await ctx.worker.configure({
    parent: a.id,
    imageConfig: { Env: [`STEP=${label}-b`] },
    history: { createdBy: `ENV ${label}-b` },
  });
  if (name) await ctx.worker.tag(b.id, name);
  return [a.id, b.id];
}

const deleted = (entries: ImageDeleteEntry[]) => entries.flatMap((e) => ('Deleted' in e ? [e.Deleted] : []));
const ids = async (engine: Engine, options: { all?: boolean; filters?: Record<string, string[]> }) =>
  (await engine.images.list(options)).map((i) => i.Id);

test('images hides intermediate images unless -a; they are not dangling', async (ctx) => {
  const [a, b] = await chain(ctx, 'list', 'built:1');
  assert.not.ok((await ids(ctx.engine, {})).includes(a), 'hidden without -a');
  assert.ok((await ids(ctx.engine, {})).includes(b));
  assert.ok((await ids(ctx.engine, { all: true })).includes(a), 'listed with -a');
  assert.not.ok(
    (await ids(ctx.engine, { all: true, filters: { dangling: ['true'] } })).includes(a),
    'an intermediate image is not dangling',
  );
  await ctx.engine.images.remove('built:1');
});

test('an image with children cannot be removed by id; by its last name it is only untagged', async (ctx) => {
  const [a, b] = await chain(ctx, 'kids');
  await ctx.worker.tag(a, 'mid:1');
  try {
    await ctx.engine.images.remove(a, { force: true });
    assert.unreachable('an image with a child is kept');
  } catch (err) {
    assert.match(String(err), 'image has dependent child images');
  }
  const entries = await ctx.engine.images.remove('mid:1');
  assert.equal(entries, [{ Untagged: 'mid:1' }]);
  assert.ok((await ids(ctx.engine, { all: true })).includes(a), 'it stays for its child');
  assert.equal(deleted(await ctx.engine.images.remove(b)), [b, a], 'the child takes its untagged parent with it');
});

test('rmi takes the untagged parents with the image, stopping at a named one; --no-prune keeps them', async (ctx) => {
  const [a, b] = await chain(ctx, 'prune', 'built:2');
  const removed = deleted(await ctx.engine.images.remove('built:2'));
  assert.equal(removed, [b, a]);
  assert.ok((await ids(ctx.engine, {})).includes(ctx.base), 'the named base image stays');

  const [c, d] = await chain(ctx, 'noprune', 'built:3');
  assert.equal(deleted(await ctx.engine.images.remove('built:3', { noprune: true })), [d]);
  assert.ok((await ids(ctx.engine, { all: true })).includes(c), '--no-prune kept the parent');
  assert.equal(deleted(await ctx.engine.images.remove(c)), [c]);
});

test('image prune removes a dangling image and the untagged chain under it, and leaves a named chain', async (ctx) => {
  const [a, b] = await chain(ctx, 'dangling');
  const [keptA, keptB] = await chain(ctx, 'named', 'kept:1');
  const report = await ctx.engine.images.prune();
  const gone = deleted(report.ImagesDeleted ?? []);
  assert.ok(gone.includes(a) && gone.includes(b), gone.join(','));
  const left = await ids(ctx.engine, { all: true });
  assert.ok(left.includes(keptA) && left.includes(keptB) && left.includes(ctx.base));
  await ctx.engine.images.remove('kept:1');
});

test.run();
