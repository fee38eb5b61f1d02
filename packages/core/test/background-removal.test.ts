import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BackgroundRemoval, isBerthError, type Logger } from '../src/index.js';

function tree(root: string): string {
  const dir = path.join(root, 'victim');
  mkdirSync(path.join(dir, 'a/b/c'), { recursive: true });
  for (let i = 0; i < 200; i++) writeFileSync(path.join(dir, 'a/b/c', `f${i}`), 'x'.repeat(1000));
  return dir;
}

test('the path is free when remove returns; the tree is gone once drained', async () => {
  const root = mkdtempSync('/tmp/berth-unit-removal-');
  try {
    const removal = new BackgroundRemoval();
    const dir = tree(root);
    removal.remove(dir);
    assert.not.ok(existsSync(dir), 'renamed away at once');
    mkdirSync(dir); // the name can be used again right away
    await removal.drain();
    assert.equal(readdirSync(root), ['victim'], 'only the new directory is left');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a missing directory is nothing to do; leftovers of a crash are recognised and deleted', async () => {
  const root = mkdtempSync('/tmp/berth-unit-removal-');
  try {
    const removal = new BackgroundRemoval();
    removal.remove(path.join(root, 'never-there'));
    const leftover = path.join(root, '.removing-victim-0000');
    mkdirSync(path.join(leftover, 'x'), { recursive: true });
    assert.ok(BackgroundRemoval.isLeftover('.removing-victim-0000'));
    assert.not.ok(BackgroundRemoval.isLeftover('victim'));
    removal.deleteLater(leftover);
    await removal.drain();
    assert.equal(readdirSync(root), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a deletion that fails is logged, not thrown', async () => {
  const warnings: string[] = [];
  const log = { warn: (m: string) => warnings.push(m), debug() {}, info() {}, error() {}, child: () => log } as unknown as Logger;
  const removal = new BackgroundRemoval(log);
  removal.deleteLater('/proc/self'); // cannot be deleted
  await removal.drain();
  assert.equal(warnings, ['cannot delete a removed directory']);
});

test('a directory with anything mounted at or below it is refused, untouched', () => {
  const removal = new BackgroundRemoval();
  const root = mkdtempSync('/tmp/berth-unit-removal-');
  const dir = path.join(root, 'container');
  const mounted = path.join(dir, 'rootfs with space');
  mkdirSync(mounted, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mounted]);
  try {
    writeFileSync(path.join(mounted, 'precious'), 'x');
    assert.throws(
      () => removal.remove(dir),
      (e: unknown) => isBerthError(e, 'Conflict') && /rootfs with space is still mounted/.test((e as Error).message),
    );
    assert.throws(
      () => removal.remove(mounted),
      (e: unknown) => isBerthError(e, 'Conflict'),
    );
    assert.ok(existsSync(path.join(mounted, 'precious')), 'nothing deleted through the mount');
  } finally {
    execFileSync('umount', [mounted]);
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
