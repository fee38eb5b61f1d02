import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  isBerthError,
  LayeredSnapshots,
  type LayeredSnapshotsOptions,
  type LayeredUnion,
  type Logger,
  NotImplemented,
  silentLogger,
} from '../src/index.js';

/** A store under a fresh /tmp/berth-unit-layered-* whose unions are described as plain data, recorded in `unions`. */
async function withStore(
  body: (store: LayeredSnapshots, root: string, unions: LayeredUnion[]) => Promise<void>,
  options: Partial<LayeredSnapshotsOptions> = {},
): Promise<void> {
  const root = mkdtempSync('/tmp/berth-unit-layered-');
  const unions: LayeredUnion[] = [];
  try {
    const store = await LayeredSnapshots.open(root, {
      driver: 'test',
      volatile: true,
      isOpaque: () => false,
      unionMounts: (union) => {
        unions.push(union);
        return [{ type: 'union', source: 'test', options: union.lowers }];
      },
      ...options,
    });
    await body(store, root, unions);
    await store.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('binds without a parent and for a view of one; the driver describes every union, its directories made', () =>
  withStore(async (store, root, unions) => {
    const fsOf = (id: number) => path.join(root, 'snapshots', String(id), 'fs');
    assert.equal(await store.prepare('a', undefined, {}), [{ type: 'bind', source: fsOf(1), options: ['rbind', 'rw'] }]);
    await store.commit('A', 'a', {});
    assert.equal(await store.view('v', 'A', {}), [{ type: 'bind', source: fsOf(1), options: ['rbind', 'ro'] }]);
    await store.prepare('b', 'A', { volatile: true });
    await store.commit('B', 'b', {});
    await store.view('w', 'B', {});
    await store.prepare('c', 'B', {});
    assert.equal(unions, [
      { kind: 'active', lowers: [fsOf(1)], upper: fsOf(3), work: path.join(root, 'snapshots/3/work'), volatile: true },
      { kind: 'view', lowers: [fsOf(3), fsOf(1)] },
      { kind: 'active', lowers: [fsOf(3), fsOf(1)], upper: fsOf(5), work: path.join(root, 'snapshots/5/work'), volatile: false },
    ]);
    assert.ok(existsSync(path.join(root, 'snapshots/5/work')), 'an active snapshot with parents has its work directory');
    assert.not.ok(existsSync(path.join(root, 'snapshots/4/work')), 'a view has none');
    writeFileSync(path.join(fsOf(1), 'old'), 'lower');
    writeFileSync(path.join(fsOf(5), 'old'), 'changed');
    writeFileSync(path.join(fsOf(5), 'new'), 'added');
    assert.equal(await store.changes('c'), [
      { path: '/new', kind: 'added' },
      { path: '/old', kind: 'modified' },
    ]);
    const meta = JSON.parse(readFileSync(path.join(root, 'metadata.json'), 'utf8'));
    assert.is(meta.snapshots.B.volatile, undefined, 'a committed record is not volatile');
  }));

test('beforeRemount runs for a union mounted again, never at create', async () => {
  const seen: string[] = [];
  await withStore(
    async (store) => {
      await store.prepare('a', undefined, {});
      await store.commit('A', 'a', {});
      await store.prepare('b', 'A', { volatile: true });
      assert.equal(seen, []);
      store.mounts('b');
      assert.equal(seen, ['active volatile']);
    },
    { beforeRemount: (union) => seen.push(`${union.kind}${union.kind === 'active' && union.volatile ? ' volatile' : ''}`) },
  );
});

test('a union the driver refuses leaves neither a record nor a directory', () =>
  withStore(
    async (store, root) => {
      await store.prepare('a', undefined, {});
      await store.commit('A', 'a', {});
      try {
        await store.prepare('b', 'A', {});
        assert.unreachable('refused');
      } catch (err) {
        assert.ok(isBerthError(err, 'NotImplemented'), String(err));
      }
      assert.equal(readdirSync(path.join(root, 'snapshots')), ['1']);
      assert.equal(
        store.walk().map((s) => s.key),
        ['A'],
      );
    },
    {
      unionMounts: () => {
        throw new NotImplemented('too deep');
      },
    },
  ));

test('open deletes directories without a record and the leftovers of a removal, naming the driver', async () => {
  const root = mkdtempSync('/tmp/berth-unit-layered-');
  try {
    const options: LayeredSnapshotsOptions = { driver: 'test', volatile: false, isOpaque: () => false, unionMounts: () => [] };
    const first = await LayeredSnapshots.open(root, options);
    await first.prepare('kept', undefined, {});
    await first.close();
    for (const name of ['7', '.removing-x', '01']) {
      mkdirSync(path.join(root, 'snapshots', name, 'fs'), { recursive: true });
      writeFileSync(path.join(root, 'snapshots', name, 'fs', 'junk'), 'x');
    }
    const warnings: string[] = [];
    const log: Logger = { ...silentLogger, warn: (message) => warnings.push(message) };
    const second = await LayeredSnapshots.open(root, { ...options, log });
    assert.equal(readdirSync(path.join(root, 'snapshots')), ['1']);
    assert.equal(warnings, ['removing an unrecorded test snapshot directory', 'removing an unrecorded test snapshot directory']);
    assert.equal(
      second.walk().map((s) => s.key),
      ['kept'],
    );
    await second.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
