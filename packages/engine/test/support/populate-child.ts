import * as path from 'node:path';
import { DriverMap, EventBus, type PluginKind, silentLogger, type VolumeDriver } from '@berth/core';
import { LocalVolumeDriver } from '@berth/volume-local';
import type { ResolvedEngineConfig } from '../../src/config.js';
import { DriverLookup } from '../../src/plugins/driver-lookup.js';
import { populateVolume } from '../../src/volumes/populate-volume.js';
import { VolumeService } from '../../src/volumes/volume-service.js';
import { VolumeStore } from '../../src/volumes/volume-store.js';

/**
 * A process of its own that pre-populates volume `name` under `dataRoot` from `rootfs`'s
 * `destination`, as the engine does at a create, so that a test can SIGKILL it in the
 * middle. Prints "begin" once the volume is marked, then "done <entries>".
 * Usage: node -r tsx/cjs populate-child.ts <dataRoot> <name> <rootfs> <destination>
 */
async function main(): Promise<void> {
  const [dataRoot, name, rootfs, destination] = process.argv.slice(2) as [string, string, string, string];
  const local = new LocalVolumeDriver(path.join(dataRoot, 'volumes'));
  await local.open();
  const volumes = new DriverMap<VolumeDriver>('volume');
  volumes.add('local', local);
  const service = new VolumeService(
    new VolumeStore({ dataRoot } as ResolvedEngineConfig),
    new DriverLookup((kind: PluginKind) => (kind === 'volume' ? volumes : new DriverMap<unknown>(kind)) as never),
    { usersOf: () => [] },
    new EventBus(),
    silentLogger,
  );
  await service.load();
  const { volume } = await service.ensure(name);
  const entries = await service.populate(name, volume.mountpoint, (begin) =>
    populateVolume(rootfs, destination, volume.mountpoint, async () => {
      await begin();
      process.stdout.write('begin\n');
    }),
  );
  process.stdout.write(`done ${entries}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
