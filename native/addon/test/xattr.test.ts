import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getXattr, mountSpec, unmountAll } from '../src/index.js';

test('getXattr reads the opaque mark overlayfs puts on a directory made again, and null where there is none', () => {
  const dir = mkdtempSync('/tmp/berth-unit-xattr-');
  try {
    for (const d of ['lower/d', 'upper', 'work', 'merged']) mkdirSync(path.join(dir, d), { recursive: true });
    writeFileSync(path.join(dir, 'lower/d/old'), 'x');
    const options = [`lowerdir=${dir}/lower`, `upperdir=${dir}/upper`, `workdir=${dir}/work`];
    mountSpec({ type: 'overlay', source: 'overlay', options }, path.join(dir, 'merged'));
    try {
      rmSync(path.join(dir, 'merged/d'), { recursive: true });
      mkdirSync(path.join(dir, 'merged/d'));
      mkdirSync(path.join(dir, 'merged/e'));
    } finally {
      unmountAll(path.join(dir, 'merged'));
    }
    assert.is(getXattr(path.join(dir, 'upper/d'), 'trusted.overlay.opaque'), 'y');
    assert.is(getXattr(path.join(dir, 'upper/e'), 'trusted.overlay.opaque'), null);
    assert.throws(
      () => getXattr(path.join(dir, 'missing'), 'trusted.overlay.opaque'),
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
    );
  } finally {
    unmountAll(path.join(dir, 'merged'));
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
