import * as path from 'node:path';
import { commitImage, ImageStore, importRootfs, sha256Digest, type TarWriteEntry } from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rejects, tarBytes, withTempDir } from './helpers.js';

const base: TarWriteEntry[] = [
  { path: 'etc/', type: 'directory' },
  { path: 'etc/motd', type: 'file', body: 'welcome\n' },
];
const layer: TarWriteEntry[] = [
  { path: 'etc/', type: 'directory' },
  { path: 'etc/.wh.motd', type: 'file' },
  { path: 'new.txt', type: 'file', body: 'new\n' },
];

test("commit adds one layer on the parent's, with the container's config, changes, author, comment and history", () =>
  withTempDir('commit', async (root) => {
    const store = await ImageStore.open(path.join(root, 'data'));
    const parent = await importRootfs(store, [await tarBytes(base)], { repo: 'base', changes: ['CMD ["sh"]'] });
    const plain = await tarBytes(layer);
    const created = new Date('2025-01-02T03:04:05Z');
    const result = await commitImage(store, {
      parent: parent.id,
      layer: [plain],
      config: { Cmd: ['sh', '-c', 'touch /new.txt'], Env: ['A=1'] },
      changes: ['ENV B=2', 'CMD ["cat", "/new.txt"]'],
      comment: 'a message',
      author: 'Jane <jane@example.com>',
      repo: 'committed',
      tag: 'v2',
      containerId: 'c0ffee',
      created,
    });
    const image = await store.get('committed:v2');
    assert.is(image.id, result.id);
    assert.is(image.parent, parent.id);
    assert.equal(image.diffIds, [...parent.diffIds, sha256Digest(plain)]);
    assert.equal(image.config.config?.Env, ['A=1', 'B=2']);
    assert.equal(image.config.config?.Cmd, ['cat', '/new.txt']);
    assert.is(image.config.author, 'Jane <jane@example.com>');
    assert.is(image.config.container, 'c0ffee');
    assert.equal(image.config.history?.at(-1), {
      created: created.toISOString(),
      created_by: 'sh -c touch /new.txt',
      author: 'Jane <jane@example.com>',
      comment: 'a message',
    });
    assert.is(image.config.history?.length, 2);
  }));

test('commit refuses a bad name or change before storing anything', () =>
  withTempDir('commit', async (root) => {
    const store = await ImageStore.open(path.join(root, 'data'));
    const parent = await importRootfs(store, [await tarBytes(base)], {});
    const plain = await tarBytes(layer);
    const before = (await store.list()).length;
    await rejects(() => commitImage(store, { parent: parent.id, layer: [plain], config: {}, repo: 'Bad:Name:x' }), /invalid reference/);
    await rejects(
      () => commitImage(store, { parent: parent.id, layer: [plain], config: {}, changes: ['RUN x'] }),
      /RUN is not a valid change command/,
    );
    assert.is((await store.list()).length, before);
  }));

test.run();
