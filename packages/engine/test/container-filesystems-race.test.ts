import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { isBerthError } from '@berth/core';
import { readTar, type TarWriteEntry, writeTar } from '@berth/image';
import { suiteTimeout } from '@berth/testkit/timeout';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Engine } from '../src/index.js';
import { startTestEngine, stopTestEngine } from './support/test-engine.js';

// cp out, cp in and export of a running container in which a process swaps a directory
// for a symlink to the host's `/` (and to a host directory holding a marker file) in a
// tight loop: nothing outside the root is ever read or written, however the steps of a
// copy fall between the swaps.

const rounds = 40;
const swapDirs = Array.from({ length: 8 }, (_, i) => `d${i}`);

interface Ctx {
  dir: string;
  /** A host directory the container's symlink names; holds the marker, and must hold nothing else. */
  hostDir: string;
  marker: string;
  /** A name unique to this run: what cp in writes, which must never appear on the host. */
  written: string;
  engine: Engine;
  container: string;
}

const test = suite<Ctx>('container filesystems against a swapping container');
suiteTimeout(test, 60_000);

test.before(async (ctx) => {
  Object.assign(ctx, await startTestEngine('fsrace'));
  ctx.hostDir = path.join(ctx.dir, 'host');
  ctx.marker = `HOST-MARKER-${randomBytes(8).toString('hex')}`;
  ctx.written = `berth-race-${randomBytes(6).toString('hex')}`;
  mkdirSync(ctx.hostDir);
  writeFileSync(path.join(ctx.hostDir, 'berth-race-marker'), `${ctx.marker}\n`);
  // /race/d0 ... d7 are directories, then symlinks to the host's `/`, then to the
  // marker's host directory, then directories again, each in a loop of its own, as fast
  // as the shell goes: many chances per copy for a step to fall between two swaps.
  const swapper = (d: string) =>
    `(while :; do mv ${d} ${d}.real; ln -s / ${d}; rm ${d}; ln -s ${ctx.hostDir} ${d}; rm ${d}; mv ${d}.real ${d}; done) &`;
  const script = [
    'mkdir -p /race && cd /race',
    ...swapDirs.map((d) => `mkdir -p ${d}/sub && echo inside > ${d}/sub/file && echo inside > ${d}/file`),
    ...swapDirs.map(swapper),
    'touch ready; wait',
  ].join('\n');
  ctx.container = (await ctx.engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', script] }, 'fs-race')).Id;
  await ctx.engine.containers.start(ctx.container);
  const ready = () =>
    ctx.engine.filesystems.statPath(ctx.container, '/race/ready').then(
      () => true,
      () => false,
    );
  for (let i = 0; i < 100; i++) {
    if (await ready()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // uvu does not print what a hook throws.
  console.error('the swapping container did not start');
  throw new Error('the swapping container did not start');
});

test.after(async ({ dir, engine, written }) => {
  try {
    await stopTestEngine({ dir, engine });
  } finally {
    // What a broken cp in would have written through `d -> /`: gone whatever the assertions said.
    for (const name of [written, `${written}-link`, `${written}-file`, `${written}-top`])
      rmSync(path.join('/', name), { recursive: true, force: true });
  }
});

/** Every entry's name and body of a tar. */
async function entries(tar: Readable): Promise<Array<{ path: string; type: string; body: string }>> {
  const found: Array<{ path: string; type: string; body: string }> = [];
  for await (const entry of readTar(tar)) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry.body) chunks.push(chunk);
    found.push({ path: entry.path, type: entry.type, body: Buffer.concat(chunks).toString('latin1') });
  }
  return found;
}

/** No entry names or holds what only the host has: the marker file, or the test's own host directory (a walk of the host's `/`). */
function assertNothingOfTheHost(found: Array<{ path: string; body: string }>, ctx: Ctx, what: string): void {
  const hostOnly = path.basename(ctx.dir);
  for (const e of found) {
    assert.not.ok(e.path.includes('berth-race-marker'), `${what}: the host's marker file is in the archive as ${e.path}`);
    assert.not.ok(e.path.includes(hostOnly), `${what}: a host directory is in the archive as ${e.path}`);
    assert.not.ok(e.body.includes(ctx.marker), `${what}: the host's marker content is in the archive, in ${e.path}`);
  }
}

test(`cp out and export, ${rounds} times each, never read a host file`, async (ctx) => {
  const { engine, container } = ctx;
  let sawInside = 0;
  let sawLink = 0;
  for (let i = 0; i < rounds; i++) {
    const tree = await entries((await engine.filesystems.getArchive(container, '/race')).tar);
    assertNothingOfTheHost(tree, ctx, `cp out of /race (round ${i})`);
    if (tree.some((e) => e.body === 'inside\n')) sawInside++;
    if (tree.some((e) => /^race\/d\d$/.test(e.path) && e.type === 'symlink')) sawLink++;
    // Through the swapping directory: the container's own tree, or not found, never the host's.
    try {
      const sub = await entries((await engine.filesystems.getArchive(container, `/race/d${i % 8}/sub`)).tar);
      assertNothingOfTheHost(sub, ctx, `cp out of /race/d${i % 8}/sub (round ${i})`);
    } catch (err) {
      assert.ok(isBerthError(err, 'NotFound'), `cp out of /race/d${i % 8}/sub: ${String(err)}`);
    }
    try {
      const stat = await engine.filesystems.statPath(container, `/race/d${i % 8}/berth-race-marker`);
      assert.unreachable(`the host's marker was found through the container's symlink: ${JSON.stringify(stat)}`);
    } catch (err) {
      assert.ok(isBerthError(err, 'NotFound'), `stat of /race/d${i % 8}/berth-race-marker: ${String(err)}`);
    }
    if (i % 20 === 0) assertNothingOfTheHost(await entries(await engine.filesystems.export(container)), ctx, `export (round ${i})`);
  }
  assert.ok(sawInside > 0, 'the copies read the container’s own files');
  assert.ok(sawLink > 0, 'the copies met a dN as a symlink: the swap raced with them');
});

test(`cp in, ${rounds} times, never writes on the host`, async ({ engine, container, hostDir, written }) => {
  let succeeded = 0;
  for (let i = 0; i < rounds; i++) {
    const d = swapDirs[i % swapDirs.length]!;
    const tar: TarWriteEntry[] = [
      { path: `${d}/${written}/`, type: 'directory', mode: 0o755 },
      { path: `${d}/${written}/file-${i}`, type: 'file', body: 'from cp in', mode: 0o644 },
      { path: `${d}/${written}-link`, type: 'symlink', linkpath: '/' },
      { path: `${d}/${written}-file`, type: 'file', body: 'from cp in', mode: 0o644 },
      { path: `${d}.real/${written}-file`, type: 'file', body: 'from cp in', mode: 0o644 },
    ];
    try {
      await engine.filesystems.putArchive(container, '/race', writeTar(tar));
      succeeded++;
    } catch (err) {
      // Refused (a dN is a symlink out of the extraction directory) or gone midway (renamed): fine, as long as nothing leaked.
      assert.ok(isBerthError(err), `cp in: ${String(err)}`);
    }
    // The extraction point itself is resolved inside the root: dN -> / is the container's root.
    const top = writeTar([{ path: `${written}-top`, type: 'file', body: 'x' }]);
    await engine.filesystems.putArchive(container, `/race/d${i % 8}`, top).catch((err) => {
      assert.ok(isBerthError(err), `cp in to /race/d${i % 8}: ${String(err)}`);
    });
  }
  assert.equal(readdirSync(hostDir), ['berth-race-marker'], 'nothing was written in the host directory the container links to');
  for (const name of [written, `${written}-link`, `${written}-file`, `${written}-top`]) {
    assert.not.ok(existsSync(path.join('/', name)), `nothing was written in the host's / (${name})`);
  }
  assert.ok(succeeded > 0, 'some copies went through');
});

test.run();
