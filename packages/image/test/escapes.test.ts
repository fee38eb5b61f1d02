import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument } from '@berth/core';
import { applyLayer, type TarWriteEntry } from '@berth/image';
import { treeSnapshot } from '@berth/testkit';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exists, rejects, tarBytes, withTempDir } from './helpers.js';

/**
 * Each case unpacks a hostile layer into <tmp>/root, beside <tmp>/outside which holds
 * a sentinel file. The layer must be refused with an InvalidArgument naming the
 * offending entry, and nothing outside the root may change.
 */

const passwdBefore = fs.readFile('/etc/passwd');
const passwdNlink = fs.stat('/etc/passwd').then((s) => s.nlink);

interface Case {
  name: string;
  /** The layer, given the outside dir's absolute path. */
  layer: (outside: string) => TarWriteEntry[];
  /** What a lower layer left in the root before (host symlinks etc.). */
  lower?: (root: string, outside: string) => Promise<void>;
  /** The entry the message must name, and a fragment of the reason. */
  entry: string;
  reason: RegExp;
  options?: Parameters<typeof applyLayer>[2];
}

const cases: Case[] = [
  {
    name: '".." as the first component',
    layer: () => [{ path: '../planted', type: 'file', body: 'x' }],
    entry: '../planted',
    reason: /"\.\."/,
  },
  {
    name: '".." deeper in the name',
    layer: () => [{ path: 'a/../../planted', type: 'file', body: 'x' }],
    entry: 'a/../../planted',
    reason: /"\.\."/,
  },
  { name: '".." in a directory entry', layer: () => [{ path: 'x/../../../', type: 'directory' }], entry: 'x/../../../', reason: /"\.\."/ },
  {
    name: 'writing through an absolute symlink to /etc',
    layer: () => [
      { path: 'a', type: 'symlink', linkpath: '/etc' },
      { path: 'a/passwd', type: 'file', body: 'root::0:0::/:/bin/sh\n' },
    ],
    entry: 'a/passwd',
    reason: /"a" is a symlink to \/etc, outside the layer's root/,
  },
  {
    name: 'writing through an absolute symlink to the outside dir',
    layer: (outside) => [
      { path: 'a', type: 'symlink', linkpath: outside },
      { path: 'a/planted', type: 'file', body: 'x' },
    ],
    entry: 'a/planted',
    reason: /outside the layer's root/,
  },
  {
    name: 'writing through a relative symlink that climbs out',
    layer: () => [
      { path: 'deep/er/', type: 'directory' },
      { path: 'deep/er/up', type: 'symlink', linkpath: '../../../outside' },
      { path: 'deep/er/up/planted', type: 'file', body: 'x' },
    ],
    entry: 'deep/er/up/planted',
    reason: /leaves the layer's root/,
  },
  {
    name: 'a chain of symlinks whose end is outside',
    layer: (outside) => [
      { path: 'b', type: 'symlink', linkpath: 'c' },
      { path: 'c', type: 'symlink', linkpath: outside },
      { path: 'b/planted', type: 'file', body: 'x' },
    ],
    entry: 'b/planted',
    reason: /"c" is a symlink to .*outside/,
  },
  {
    name: 'a symlink loop',
    layer: () => [
      { path: 'l1', type: 'symlink', linkpath: 'l2' },
      { path: 'l2', type: 'symlink', linkpath: 'l1' },
      { path: 'l1/x', type: 'file', body: 'x' },
    ],
    entry: 'l1/x',
    reason: /too many levels of symbolic links/,
  },
  {
    name: 'a symlink left by a lower layer',
    lower: async (root, outside) => fs.symlink(outside, path.join(root, 'etc')),
    layer: () => [{ path: 'etc/passwd', type: 'file', body: 'x' }],
    entry: 'etc/passwd',
    reason: /"etc" is a symlink/,
  },
  {
    name: 'a hardlink whose target climbs out',
    layer: () => [{ path: 'h', type: 'hardlink', linkpath: '../outside/sentinel' }],
    entry: 'h',
    reason: /"\.\."/,
  },
  {
    name: 'a hardlink to an absolute host path (taken inside the root, where it does not exist)',
    layer: () => [{ path: 'h', type: 'hardlink', linkpath: '/etc/passwd' }],
    entry: 'h',
    reason: /hardlink target "\/etc\/passwd" does not exist/,
  },
  {
    name: 'a hardlink through an escaping symlink',
    layer: (outside) => [
      { path: 'a', type: 'symlink', linkpath: outside },
      { path: 'h', type: 'hardlink', linkpath: 'a/sentinel' },
    ],
    entry: 'h',
    reason: /"a" is a symlink/,
  },
  {
    name: 'a whiteout through an escaping symlink',
    layer: (outside) => [
      { path: 'a', type: 'symlink', linkpath: outside },
      { path: 'a/.wh.sentinel', type: 'file' },
    ],
    entry: 'a/.wh.sentinel',
    reason: /"a" is a symlink/,
  },
  {
    name: 'an opaque marker through an escaping symlink',
    layer: (outside) => [
      { path: 'a', type: 'symlink', linkpath: outside },
      { path: 'a/.wh..wh..opq', type: 'file' },
    ],
    entry: 'a/.wh..wh..opq',
    reason: /"a" is a symlink/,
  },
  {
    name: 'a file in the middle of a path',
    layer: () => [
      { path: 'f', type: 'file', body: 'x' },
      { path: 'f/x', type: 'file', body: 'x' },
    ],
    entry: 'f/x',
    reason: /"f" is not a directory/,
  },
  {
    name: 'a device node when devices are not allowed',
    layer: () => [{ path: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 }],
    entry: 'dev/sda',
    reason: /device nodes are not allowed/,
    options: { allowDevices: false },
  },
];

for (const c of cases) {
  test(`refuses ${c.name}`, () =>
    withTempDir('esc', async (tmp) => {
      const root = path.join(tmp, 'root');
      const outside = path.join(tmp, 'outside');
      await fs.mkdir(root);
      await fs.mkdir(outside);
      await fs.writeFile(path.join(outside, 'sentinel'), 'do not touch');
      await c.lower?.(root, outside);
      const before = await treeSnapshot(outside);
      const layer = await tarBytes(c.layer(outside));
      const err = await rejects(() => applyLayer(root, [layer], c.options), InvalidArgument);
      assert.match(err.message, `invalid tar entry ${JSON.stringify(c.entry)}: `);
      assert.match(err.message, c.reason);
      assert.is(await treeSnapshot(outside), before, 'the outside directory is unchanged');
      assert.not.ok(await exists(path.join(tmp, 'planted')));
      assert.equal(await fs.readFile('/etc/passwd'), await passwdBefore);
      assert.is((await fs.stat('/etc/passwd')).nlink, await passwdNlink);
    }));
}

test('a file replacing a lower symlink to the outside does not write through it', () =>
  withTempDir('esc', async (tmp) => {
    const root = path.join(tmp, 'root');
    const outside = path.join(tmp, 'outside');
    await fs.mkdir(root);
    await fs.mkdir(outside);
    await fs.writeFile(path.join(outside, 'sentinel'), 'do not touch');
    await fs.symlink(path.join(outside, 'sentinel'), path.join(root, 's'));
    await applyLayer(root, [await tarBytes([{ path: 's', type: 'file', body: 'replaced' }])]);
    assert.is(await fs.readFile(path.join(outside, 'sentinel'), 'utf8'), 'do not touch');
    assert.ok((await fs.lstat(path.join(root, 's'))).isFile());
    assert.is(await fs.readFile(path.join(root, 's'), 'utf8'), 'replaced');
  }));

test('directory modes set at the end never follow a parent replaced by a symlink later', () =>
  withTempDir('esc', async (tmp) => {
    const root = path.join(tmp, 'root');
    const outside = path.join(tmp, 'outside');
    await fs.mkdir(root);
    await fs.mkdir(path.join(outside, 'ssl'), { recursive: true });
    await fs.chmod(path.join(outside, 'ssl'), 0o755);
    const before = await treeSnapshot(outside);
    const beforeTime = (await fs.stat(path.join(outside, 'ssl'))).mtimeMs;
    await applyLayer(root, [
      await tarBytes([
        { path: 'd/', type: 'directory' },
        { path: 'd/ssl/', type: 'directory', mode: 0o700 },
        { path: 'd', type: 'symlink', linkpath: outside },
      ]),
    ]);
    assert.is(await fs.readlink(path.join(root, 'd')), outside);
    assert.is(await treeSnapshot(outside), before);
    assert.is((await fs.stat(path.join(outside, 'ssl'))).mtimeMs, beforeTime);
  }));

test('an absolute name that is a host path lands inside the root', () =>
  withTempDir('esc', async (tmp) => {
    const root = path.join(tmp, 'root');
    const outside = path.join(tmp, 'outside');
    await fs.mkdir(root);
    await fs.mkdir(outside);
    await applyLayer(root, [await tarBytes([{ path: path.join(outside, 'planted'), type: 'file', body: 'x' }])]);
    assert.not.ok(await exists(path.join(outside, 'planted')));
    assert.ok(await exists(path.join(root, outside, 'planted')));
  }));

test.run();
