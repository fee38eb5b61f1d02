import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ContainerRecord } from '../src/containers/container-record.js';
import { ContainerStore } from '../src/state/container-store.js';

const id = 'c'.repeat(64);
const record = { id, name: 'quay', state: { Running: false } } as unknown as ContainerRecord;

test('delete frees the directory at once and deletes it in the background', async () => {
  const root = mkdtempSync('/tmp/berth-unit-store-');
  try {
    const store = new ContainerStore(root);
    await store.load(() => assert.unreachable('no bad records'));
    await store.save(record);
    writeFileSync(path.join(store.dir(id), `${id}-json.log`), 'x'.repeat(1 << 20));
    await store.delete(record);
    assert.not.ok(existsSync(store.dir(id)));
    assert.is(store.find(id), undefined);
    await store.drain();
    assert.equal(readdirSync(root), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('load deletes what an interrupted removal left, without calling it a bad record', async () => {
  const root = mkdtempSync('/tmp/berth-unit-store-');
  try {
    mkdirSync(path.join(root, `.removing-${id}-0a0b0c0d`, 'bundle'), { recursive: true });
    const store = new ContainerStore(root);
    const bad: string[] = [];
    assert.equal(await store.load((name) => bad.push(name)), []);
    await store.drain();
    assert.equal(bad, []);
    assert.equal(readdirSync(root), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
