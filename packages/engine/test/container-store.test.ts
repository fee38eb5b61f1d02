import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { silentLogger } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResolvedEngineConfig } from '../src/config.js';
import { ContainerPaths } from '../src/containers/container-paths.js';
import type { ContainerRecord } from '../src/containers/container-record.js';
import { FileContainerStore } from '../src/state/container-store.js';
import { containerRecordSchema } from '../src/state/record-schema.js';
import { recordFixture } from './support/record-fixture.js';

const id = 'c'.repeat(64);
const record: ContainerRecord = recordFixture(id, 'quay');

function open(dataRoot: string): { store: FileContainerStore; paths: ContainerPaths } {
  const paths = new ContainerPaths({ dataRoot, execRoot: path.join(dataRoot, 'exec') } as ResolvedEngineConfig);
  return { store: new FileContainerStore(paths, silentLogger), paths };
}

const noSurprises = {
  unreadable: (id: string) => assert.unreachable(`unreadable: ${id}`),
  incomplete: (id: string) => assert.unreachable(`incomplete: ${id}`),
};

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync('/tmp/berth-unit-store-');
  try {
    await fn(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('delete frees the directory at once and deletes it in the background', () =>
  withRoot(async (root) => {
    const { store, paths } = open(root);
    await store.load(noSurprises);
    await store.save({ ...record });
    writeFileSync(paths.log(id), 'x'.repeat(1 << 20));
    await store.delete(record);
    assert.not.ok(existsSync(paths.dir(id)));
    assert.is(store.find(id), undefined);
    await store.drain();
    assert.equal(readdirSync(paths.root), []);
  }));

test('a name reserved by a create still under way is taken, though no record has it yet', () =>
  withRoot(async (root) => {
    const { store } = open(root);
    await store.load(noSurprises);
    store.reserveName('gentle_rotterdam', id);
    assert.is(store.find('gentle_rotterdam'), undefined);
    assert.ok(store.nameTaken('gentle_rotterdam'));
    assert.throws(() => store.reserveName('gentle_rotterdam', 'd'.repeat(64)), /already in use/);
    store.releaseName('gentle_rotterdam', id);
    assert.not.ok(store.nameTaken('gentle_rotterdam'));
  }));

test('load deletes what an interrupted removal left, without calling it a bad record', () =>
  withRoot(async (root) => {
    const { store, paths } = open(root);
    mkdirSync(path.join(paths.root, `.removing-${id}-0a0b0c0d`, 'bundle'), { recursive: true });
    const bad: string[] = [];
    assert.equal(await store.load({ unreadable: (name) => bad.push(name), incomplete: (name) => bad.push(name) }), []);
    await store.drain();
    assert.equal(bad, []);
    assert.equal(readdirSync(paths.root), []);
  }));

test('a record written before the schema had a version is read as the current schema and written back so', () =>
  withRoot(async (root) => {
    const { store, paths } = open(root);
    const { schemaVersion: _, ...old } = record;
    mkdirSync(paths.dir(id), { recursive: true });
    writeFileSync(paths.record(id), JSON.stringify(old));
    const [loaded] = await store.load(noSurprises);
    assert.is(loaded?.schemaVersion, containerRecordSchema);
    assert.is(loaded?.name, 'quay');
    await store.save(loaded!);
    assert.is(JSON.parse(readFileSync(paths.record(id), 'utf8')).schemaVersion, containerRecordSchema);
  }));

test('a record of a newer schema, or one that is not a record, is skipped and reported; the others load', () =>
  withRoot(async (root) => {
    const { store, paths } = open(root);
    const newer = 'a'.repeat(64);
    const garbage = 'b'.repeat(64);
    for (const [dir, body] of [
      [id, JSON.stringify(record)],
      [newer, JSON.stringify({ ...record, id: newer, name: 'n', schemaVersion: containerRecordSchema + 1 })],
      [garbage, JSON.stringify({ Labels: [1] })],
    ]) {
      mkdirSync(paths.dir(dir!), { recursive: true });
      writeFileSync(paths.record(dir!), body!);
    }
    const bad = new Map<string, string>();
    const loaded = await store.load({
      unreadable: (name, err) => bad.set(name, String(err)),
      incomplete: (name) => bad.set(name, 'incomplete'),
    });
    assert.equal(
      loaded.map((r) => r.id),
      [id],
    );
    assert.match(
      bad.get(newer) ?? '',
      new RegExp(`newer berth \\(record schema ${containerRecordSchema + 1}, this berth reads up to ${containerRecordSchema}\\)`),
    );
    assert.match(bad.get(garbage) ?? '', /no valid id/);
  }));

test('a container directory without a record is reported as incomplete, and discard deletes it', () =>
  withRoot(async (root) => {
    const { store, paths } = open(root);
    const lost = 'f'.repeat(64);
    mkdirSync(paths.bundle(lost), { recursive: true });
    writeFileSync(paths.log(lost), 'x');
    const incomplete: string[] = [];
    assert.equal(await store.load({ unreadable: (id) => assert.unreachable(id), incomplete: (id) => incomplete.push(id) }), []);
    assert.equal(incomplete, [lost]);
    store.discard(lost);
    assert.not.ok(existsSync(paths.dir(lost)));
    await store.drain();
    assert.equal(readdirSync(paths.root), []);
  }));

test.run();
