import { mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { isBerthError, StorageDriverToken } from '@berth/core';
import { writeTar } from '@berth/image';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import overlay from '@berth/storage-overlay';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createEngine, ImageHoldsToken } from '../src/index.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';

// A create and an rmi of the same image, racing on a real engine: one of them wins, and
// never a container on an image that is gone (ImageHolds).

async function tarOf(name: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of writeTar([{ path: name, type: 'file', body: name }])) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** Let `turns` turns of the event loop go by. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

test('create and rmi of one image at once: the create fails as for a missing image, or the rmi sees its container', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-image-holds-');
  const engine = await createEngine({
    dataRoot: path.join(dir, 'data'),
    execRoot: path.join(dir, 'exec'),
    cgroupParent: 'berth-unit-image-holds',
    plugins: [overlay, runc, none],
  });
  try {
    const outcomes = new Set<string>();
    for (let round = 0; round < 8; round++) {
      const id = await engine.images.import(Readable.from(await tarOf(`f${round}`)), { repo: 'race', tag: `r${round}` });
      const chainId = (await engine.images.inspect(id)).RootFS.Layers![0]!;
      const [created, removed] = await Promise.allSettled([
        engine.containers.create({ Image: id, Cmd: ['x'] }),
        turns(round).then(() => engine.images.remove(id)),
      ]);
      if (created.status === 'fulfilled') {
        outcomes.add('create won');
        assert.is(removed.status, 'rejected', `round ${round}: the rmi of an image a container uses is refused`);
        assert.ok(isBerthError((removed as PromiseRejectedResult).reason, 'Conflict'), `round ${round}: as a conflict`);
        assert.is((await engine.images.inspect(id)).Id, id, `round ${round}: the image stays`);
        assert.is((await engine.containers.inspect(created.value.Id)).Image, id);
        await engine.containers.remove(created.value.Id);
        await engine.images.remove(id);
      } else {
        outcomes.add('rmi won');
        assert.is(removed.status, 'fulfilled', `round ${round}: one of them succeeds`);
        assert.ok(isBerthError(created.reason, 'NotFound'), `round ${round}: the create fails as for a missing image: ${created.reason}`);
        assert.equal(await engine.containers.list({ all: true }), [], `round ${round}: no container was made`);
      }
      assert.equal(engine.di.resolve(ImageHoldsToken).creators(id), [], `round ${round}: the create let go of its hold`);
      const snapshots = await engine.di.resolve(StorageDriverToken).walk();
      assert.not.ok(
        snapshots.some((s) => s.key === chainId),
        `round ${round}: no layer snapshot of the deleted image is left`,
      );
    }
    assert.ok(outcomes.has('rmi won'), 'the rmi-first interleaving was exercised');
  } finally {
    await engine.close();
    removeAndAssertNoMounts(dir);
  }
});

test.run();
