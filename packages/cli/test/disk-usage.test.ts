import type { ContainerSummary, DiskUsage, ImageSummary } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatDiskUsage, formatDiskUsageVerbose, formatHistory } from '../src/commands/disk-usage.js';

const now = Date.parse('2026-01-01T00:00:00Z');

function image(id: string, tags: string[], size: number, shared: number, containers: number): ImageSummary {
  return {
    Id: `sha256:${id.repeat(64 / id.length)}`,
    ParentId: '',
    RepoTags: tags,
    RepoDigests: null,
    Created: now / 1000 - 3600,
    Size: size,
    VirtualSize: size,
    SharedSize: shared,
    Labels: null,
    Containers: containers,
  };
}

test('system df: volumes counted with their sizes, the unused ones reclaimable; -v lists each with its links', () => {
  const volume = (name: string, size: number, refs: number) => ({
    Name: name,
    Driver: 'local',
    Mountpoint: `/v/${name}`,
    CreatedAt: '',
    Labels: {},
    Scope: 'local' as const,
    Options: {},
    UsageData: { Size: size, RefCount: refs },
  });
  const usage: DiskUsage = {
    LayersSize: 0,
    Images: [],
    Containers: [],
    Volumes: [volume('used', 3000, 2), volume('free', 1000, 0)],
    BuildCache: [],
  };
  assert.match(formatDiskUsage(usage), /\nLocal Volumes\s+2\s+1\s+4kB\s+1kB \(25%\)\n/);
  const verbose = formatDiskUsageVerbose(usage, now);
  assert.match(verbose, /Local Volumes space usage:\n\nVOLUME NAME\s+LINKS\s+SIZE\nused\s+2\s+3kB\nfree\s+0\s+1kB\n/);
});

test('system df: reclaimable is what no container holds, as the docker CLI computes it', () => {
  const usage: DiskUsage = {
    // base (1000) shared by both images; app adds 500 of its own.
    LayersSize: 1500,
    Images: [image('a', ['app:1'], 1500, 1000, 1), image('b', ['base:1'], 1000, 1000, 0)],
    Containers: [
      {
        Id: 'c'.repeat(64),
        Names: ['/web'],
        Image: 'app:1',
        Command: 'sleep 1000',
        Created: now / 1000,
        State: 'running',
        Status: 'Up',
        SizeRw: 30,
      },
      {
        Id: 'd'.repeat(64),
        Names: ['/old'],
        Image: 'app:1',
        Command: 'true',
        Created: now / 1000,
        State: 'exited',
        Status: 'Exited (0)',
        SizeRw: 10,
      },
    ] as ContainerSummary[],
    Volumes: [],
    BuildCache: [],
  };
  const table = formatDiskUsage(usage);
  assert.match(table, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\n/);
  // Images: 1.5kB of layers, 500B held by app:1's container (its unique part): 1kB (67%) reclaimable.
  assert.match(table, /\nImages\s+2\s+1\s+1\.5kB\s+1kB \(67%\)\n/);
  // Containers: 40B of writable layers, the stopped one's 10B reclaimable.
  assert.match(table, /\nContainers\s+2\s+1\s+40B\s+10B \(25%\)\n/);
  assert.match(table, /\nLocal Volumes\s+0\s+0\s+0B\s+0B\nBuild Cache\s+0\s+0\s+0B\s+0B\n$/);
  const verbose = formatDiskUsageVerbose(usage, now);
  assert.match(verbose, /\napp\s+1\s+aaaaaaaaaaaa\s+About an hour ago\s+1\.5kB\s+1kB\s+500B\s+1\n/);
  assert.match(verbose, /\nbase\s+1\s+bbbbbbbbbbbb\s+About an hour ago\s+1kB\s+1kB\s+0B\s+0\n/);
  assert.match(verbose, /\ncccccccccccc\s+app:1\s+"sleep 1000"\s+0\s+30B\s+/);
});

test('history: created-by cut at 45 characters unless --no-trunc; -q lists ids, <missing> as it is', () => {
  const entries = [
    {
      Id: `sha256:${'e'.repeat(64)}`,
      Created: now / 1000 - 60,
      CreatedBy: `/bin/sh -c ${'x'.repeat(60)}`,
      Tags: ['app:1'],
      Size: 2048,
      Comment: '',
    },
    { Id: '<missing>', Created: now / 1000 - 7200, CreatedBy: '', Tags: null, Size: 1_983_000, Comment: 'Imported from -' },
  ];
  const table = formatHistory(entries, { nowMs: now });
  assert.match(table, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT\n/);
  assert.match(table, `\neeeeeeeeeeee   About a minute ago   /bin/sh -c ${'x'.repeat(33)}…   2.05kB`);
  assert.match(table, /\n<missing>\s+2 hours ago\s+1\.98MB\s+Imported from -\n$/);
  assert.match(formatHistory(entries, { nowMs: now, noTrunc: true }), `/bin/sh -c ${'x'.repeat(60)}`);
  assert.is(formatHistory(entries, { nowMs: now, quiet: true }), 'eeeeeeeeeeee\n<missing>\n');
  assert.match(formatHistory(entries, { nowMs: now, human: false }), /\s2048\s/);
});

test.run();
