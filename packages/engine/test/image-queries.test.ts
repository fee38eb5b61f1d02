import type { StorageDriver } from '@berth/core';
import type { ImageRecord, ImageStore } from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ImageQueries } from '../src/images/image-queries.js';

// `docker images REPO` (the `reference` filter): which images and which of their names
// dockerd answers. The store is a fixed list of records: the question is the filtering.

function record(id: string, repoTags: string[], repoDigests: string[] = [], created = '2026-01-01T00:00:00Z'): ImageRecord {
  return {
    id: `sha256:${id.padEnd(64, '0')}`,
    config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } },
    layers: [],
    diffIds: [],
    chainIds: [],
    created,
    added: created,
    size: 0,
    repoTags,
    repoDigests,
  } as ImageRecord;
}

const shared = record('a', ['busybox:latest', 'mirror/busybox:v1', 'other:x'], ['busybox@sha256:'.concat('1'.repeat(64))]);
const alpine = record('b', ['alpine:3'], [], '2026-01-02T00:00:00Z');
const digestOnly = record('c', [], ['busybox@sha256:'.concat('2'.repeat(64))], '2026-01-03T00:00:00Z');
const dangling = record('d', [], [], '2026-01-04T00:00:00Z');

const queries = new ImageQueries(
  { list: async () => [shared, alpine, digestOnly, dangling] } as unknown as ImageStore,
  {} as StorageDriver,
);

test('a reference filter lists only the names that match it, not the image`s other names', async () => {
  const listed = await queries.list({ filters: { reference: ['busybox'] } });
  assert.equal(
    listed.map((i) => [i.Id.slice(7, 8), i.RepoTags, i.RepoDigests]),
    [
      ['c', [], [`busybox@sha256:${'2'.repeat(64)}`]],
      ['a', ['busybox:latest'], [`busybox@sha256:${'1'.repeat(64)}`]],
    ],
  );
});

test('a tag pattern and several patterns: each name is kept when one pattern matches it', async () => {
  let listed = await queries.list({ filters: { reference: ['*/busybox:v*'] } });
  assert.equal(
    listed.map((i) => [i.RepoTags, i.RepoDigests]),
    [[['mirror/busybox:v1'], []]],
  );
  listed = await queries.list({ filters: { reference: ['other', 'alpine:3'] } });
  assert.equal(
    listed.map((i) => i.RepoTags),
    [['alpine:3'], ['other:x']],
  );
});

test('without a reference filter every name is listed, and a nameless image gets the placeholders', async () => {
  const listed = await queries.list();
  assert.equal(
    listed.map((i) => [i.RepoTags, i.RepoDigests]),
    [
      [['<none>:<none>'], ['<none>@<none>']],
      [[], [`busybox@sha256:${'2'.repeat(64)}`]],
      [['alpine:3'], []],
      [['busybox:latest', 'mirror/busybox:v1', 'other:x'], [`busybox@sha256:${'1'.repeat(64)}`]],
    ],
  );
});

test.run();
