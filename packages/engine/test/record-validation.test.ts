import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type StorageDriver, silentLogger } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResolvedEngineConfig } from '../src/config.js';
import { ContainerPaths } from '../src/containers/container-paths.js';
import { ContainerQueries } from '../src/containers/container-queries.js';
import type { ExecService } from '../src/exec/exec-service.js';
import type { HealthMonitor } from '../src/health/health-monitor.js';
import type { ImageQueries } from '../src/images/image-queries.js';
import type { NetworkService } from '../src/networks/network-service.js';
import { FileContainerStore } from '../src/state/container-store.js';
import { migrateRecord } from '../src/state/record-schema.js';
import { validateRecordTypes } from '../src/state/record-validation.js';
import { recordFixture } from './support/record-fixture.js';

const good = recordFixture('a'.repeat(64), 'good');

/** The message `validateRecordTypes` refuses `record` with; fails if it accepts it. */
function refusal(record: unknown): string {
  try {
    validateRecordTypes(JSON.parse(JSON.stringify(record)));
  } catch (err) {
    return (err as Error).message;
  }
  assert.unreachable(`accepted ${JSON.stringify(record)}`);
  return '';
}

test('a record as the creator writes it passes, through migrateRecord too', () => {
  validateRecordTypes(JSON.parse(JSON.stringify(good)));
  assert.is(migrateRecord(JSON.parse(JSON.stringify(good))).name, 'good');
});

test("fields listings and inspect serialise must have the API's types", () => {
  assert.is(
    refusal({ ...good, config: { ...good.config, Labels: { 0: 1 } } }),
    'invalid Config.Labels: expected a map of strings, got {"0":1}',
  );
  assert.is(
    refusal({ ...good, config: { ...good.config, Cmd: [1, {}] } }),
    'invalid Config.Cmd: expected a string or an array of strings, got [1,{}]',
  );
  assert.is(
    refusal({ ...good, config: { ...good.config, Env: { a: 1 } } }),
    'invalid Config.Env: expected an array of strings, got {"a":1}',
  );
  assert.is(
    refusal({ ...good, hostConfig: { ...good.hostConfig, Binds: 5 } }),
    'invalid HostConfig.Binds: expected an array of strings, got 5',
  );
  assert.is(refusal({ ...good, args: 'x' }), 'invalid args: expected an array of strings, got "x"');
  assert.is(refusal({ ...good, state: { ...good.state, Pid: '1' } }), 'invalid State.Pid: expected an integer, got "1"');
  assert.is(refusal({ ...good, state: { ...good.state, Status: 'sleeping' } }), 'invalid State.Status: "sleeping"');
  assert.is(
    refusal({ ...good, state: { ...good.state, Health: { Status: 'healthy', FailingStreak: 0, Log: [{ ExitCode: '0' }] } } }),
    'invalid State.Health.Log[0].ExitCode: expected an integer, got "0"',
  );
  validateRecordTypes(
    JSON.parse(
      JSON.stringify({
        ...good,
        state: { ...good.state, Health: { Status: 'healthy', FailingStreak: 0, Log: [{ Start: 's', End: 'e', ExitCode: 0, Output: '' }] } },
      }),
    ),
  );
  assert.is(refusal({ ...good, created: 'yesterday' }), 'invalid created: "yesterday" is not a time');
  assert.is(refusal({ ...good, config: null }), 'no Config');
  const { imageId: _, ...noImage } = good;
  assert.is(refusal(noImage), 'no imageId');
});

test('null and unknown fields in Config and HostConfig are fine, as clients read them', () => {
  validateRecordTypes(
    JSON.parse(JSON.stringify({ ...good, config: { ...good.config, Labels: null, Future: [1] }, hostConfig: { Memory: null } })),
  );
});

test('an older berth\'s record with Labels {"0":1} is reported and skipped; listing and inspect serve the others', async () => {
  const root = mkdtempSync('/tmp/berth-unit-records-');
  try {
    const paths = new ContainerPaths({ dataRoot: root, execRoot: path.join(root, 'exec') } as ResolvedEngineConfig);
    const bad = recordFixture('b'.repeat(64), 'bad');
    const written = [good, { ...bad, config: { ...bad.config, Labels: { 0: 1 } } }];
    for (const record of written) {
      mkdirSync(paths.dir(record.id), { recursive: true });
      writeFileSync(paths.record(record.id), JSON.stringify(record));
    }
    const store = new FileContainerStore(paths, silentLogger);
    const reported = new Map<string, string>();
    await store.load({ unreadable: (id, err) => reported.set(id, String(err)), incomplete: (id) => reported.set(id, 'incomplete') });
    assert.equal([...reported.keys()], [bad.id]);
    assert.match(reported.get(bad.id)!, /invalid Config\.Labels: expected a map of strings/);
    // Listing without sizes reads neither the storage driver nor the images.
    const noHealth = { of: () => undefined } as unknown as HealthMonitor;
    const noExecs = { idsOf: () => null } as unknown as ExecService;
    const noNetworks = { endpointsOf: () => [], findMode: () => undefined } as unknown as NetworkService;
    const queries = new ContainerQueries(store, paths, {} as StorageDriver, {} as ImageQueries, noHealth, noExecs, noNetworks);
    const listed = await queries.list({ all: true });
    assert.equal(
      listed.map((c) => [c.Names, c.Labels]),
      [[['/good'], { app: 'web' }]],
    );
    assert.is((await queries.inspect('good')).Config.Labels?.app, 'web');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
