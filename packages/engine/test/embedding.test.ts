import { createReadStream, mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import {
  type EngineEvent,
  EventBus,
  EventBusToken,
  Forbidden,
  type ImageDeleteEntry,
  type ImageSummary,
  type ImagesApi,
  type ImagesPruneReport,
  statusOf,
  token,
} from '@berth/core';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import overlay from '@berth/storage-overlay';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ContainerStoreToken, createEngine, ImageService, ImageServiceToken, RecentIndexesToken } from '../src/index.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';

// What the README's "Embedding the engine" section shows: an embedder replaces the
// event bus and the image service in `configure`, and the engine runs on them.
const busybox = path.resolve(__dirname, '../../../test/fixtures/.cache/busybox.tar');

/** An event bus that keeps what it carried, as an embedder's audit log would. */
class RecordingBus extends EventBus {
  readonly seen: EngineEvent[] = [];
  override publish(...args: Parameters<EventBus['publish']>): EngineEvent {
    const event = super.publish(...args);
    this.seen.push(event);
    return event;
  }
}

/** The engine's own image service, wrapped: images can be listed and loaded, never removed. */
class NoRemovalImages implements ImagesApi {
  listed = 0;
  constructor(private readonly inner: ImageService) {}
  list(options?: Parameters<ImagesApi['list']>[0]): Promise<ImageSummary[]> {
    this.listed++;
    return this.inner.list(options);
  }
  inspect = (ref: string) => this.inner.inspect(ref);
  history = (ref: string) => this.inner.history(ref);
  tag = (ref: string, repo: string, tag?: string) => this.inner.tag(ref, repo, tag);
  import = (...args: Parameters<ImagesApi['import']>) => this.inner.import(...args);
  load = (...args: Parameters<ImagesApi['load']>) => this.inner.load(...args);
  save = (refs: string[]) => this.inner.save(refs);
  pull = (...args: Parameters<ImagesApi['pull']>) => this.inner.pull(...args);
  push = (...args: Parameters<ImagesApi['push']>) => this.inner.push(...args);
  login = (...args: Parameters<ImagesApi['login']>) => this.inner.login(...args);
  diskUsage = () => this.inner.diskUsage();
  async prune(): Promise<ImagesPruneReport> {
    throw new Forbidden('images are never pruned here');
  }
  async remove(ref: string): Promise<ImageDeleteEntry[]> {
    throw new Forbidden(`images are never removed here: ${ref}`);
  }
}

test('an embedder replaces the event bus and the image service before anything is resolved', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-embed-');
  const bus = new RecordingBus();
  let images: NoRemovalImages | undefined;
  const engine = await createEngine({
    dataRoot: path.join(dir, 'data'),
    execRoot: path.join(dir, 'exec'),
    cgroupParent: 'berth-unit-embed',
    plugins: [overlay, runc, none],
    configure(di) {
      di.register(EventBusToken, { useValue: bus });
      di.register(ImageServiceToken, { useFactory: (d) => (images = new NoRemovalImages(d.build(ImageService))) });
    },
  });
  try {
    assert.is(engine.events, bus);
    assert.is(engine.images, images);
    await engine.images.load(createReadStream(busybox));
    assert.is((await engine.images.list()).length, 1);
    assert.is(images?.listed, 1);
    const err = await engine.images.remove('busybox').catch((e: unknown) => e);
    assert.is(statusOf(err), 403);

    // The rest of the engine still uses its own services, and publishes on the embedder's bus.
    const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
    assert.ok(engine.di.resolve(ContainerStoreToken).find(Id));
    await engine.containers.remove(Id);
    assert.equal(
      bus.seen.map((e) => `${e.type}.${e.action}`),
      ['image.load', 'container.create', 'container.destroy'],
    );
  } finally {
    await engine.close();
    removeAndAssertNoMounts(dir);
  }
});

test('a token nobody registered names itself when resolved', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-embed-');
  const engine = await createEngine({ dataRoot: path.join(dir, 'data'), execRoot: path.join(dir, 'exec'), plugins: [overlay] });
  try {
    assert.throws(
      () => engine.di.resolve(token<string>('NotRegisteredAnywhere')),
      /nothing is registered for berth\.NotRegisteredAnywhere/,
    );
  } finally {
    await engine.close();
    removeAndAssertNoMounts(dir);
  }
});

test("the build contexts' recent indexes are the engine's: one per engine, never shared between two", async () => {
  const dir = mkdtempSync('/tmp/berth-unit-embed-');
  const open = (name: string) =>
    createEngine({ dataRoot: path.join(dir, name, 'data'), execRoot: path.join(dir, name, 'exec'), plugins: [overlay] });
  const one = await open('one');
  try {
    const two = await open('two');
    try {
      assert.is(one.di.resolve(RecentIndexesToken), one.di.resolve(RecentIndexesToken), 'one engine keeps one');
      assert.is.not(one.di.resolve(RecentIndexesToken), two.di.resolve(RecentIndexesToken), 'each engine has its own');
    } finally {
      await two.close();
    }
  } finally {
    await one.close();
    removeAndAssertNoMounts(dir);
  }
});

test.run();
