import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ImageStore, importRootfs, saveArchive } from '@berth/image';
import { busyboxTar, run } from '../e2e/harness';

/** The files the workload feeds to `docker import` and `docker load`. */
export interface CrashFixtures {
  /** Rootfs tarballs (busybox plus one file of their own): each import makes a new layer blob. */
  importTars: string[];
  /** `docker save` archives of one image each, tagged `crashload/img<k>:v1`, with their ids. */
  loadArchives: Array<{ file: string; tag: string; id: string }>;
}

/**
 * Make the fixtures under `dir` (inside the harness directory): busybox's layer taken from
 * the busybox fixture archive, `imports` rootfs tarballs and `loads` image archives, each
 * with a file of its own so that every one brings blobs the daemon does not have yet.
 * The archives are written by @berth/image's own `saveArchive` from a scratch store,
 * which is deleted afterwards.
 */
export async function makeFixtures(dir: string, imports = 4, loads = 4): Promise<CrashFixtures> {
  await fs.mkdir(dir, { recursive: true });
  const list = await run('tar', ['-tf', busyboxTar], {});
  const layerPath = list.stdout.split('\n').find((l) => l.endsWith('/layer.tar'));
  if (!layerPath) throw new Error(`no layer.tar in ${busyboxTar}`);
  const base = path.join(dir, 'busybox-layer.tar');
  const extract = await run('sh', ['-c', `tar -xOf "$1" "$2" > "$3"`, 'sh', busyboxTar, layerPath, base], {});
  if (extract.code !== 0) throw new Error(`cannot extract ${layerPath}: ${extract.stderr}`);

  const variant = async (name: string): Promise<string> => {
    const files = path.join(dir, `${name}.d`);
    await fs.mkdir(files, { recursive: true });
    await fs.writeFile(path.join(files, `crash-${name}`), `${name}\n`);
    const out = path.join(dir, `${name}.tar`);
    await fs.copyFile(base, out);
    const appended = await run('tar', ['-rf', out, '-C', files, `crash-${name}`], {});
    if (appended.code !== 0) throw new Error(`cannot append to ${out}: ${appended.stderr}`);
    await fs.rm(files, { recursive: true });
    return out;
  };

  const importTars: string[] = [];
  for (let k = 0; k < imports; k++) importTars.push(await variant(`import-${k}`));

  const scratch = path.join(dir, 'scratch');
  const store = await ImageStore.open(scratch);
  const loadArchives: CrashFixtures['loadArchives'] = [];
  try {
    for (let k = 0; k < loads; k++) {
      const rootfs = await variant(`load-${k}`);
      const tag = `crashload/img${k}:v1`;
      const { id } = await importRootfs(store, createReadStream(rootfs), {
        repo: `crashload/img${k}`,
        tag: 'v1',
        changes: ['CMD ["sh"]'],
        created: new Date('2024-01-01T00:00:00Z'),
      });
      const file = path.join(dir, `load-${k}-archive.tar`);
      await pipeline(await saveArchive(store, [tag]), createWriteStream(file));
      await fs.rm(rootfs);
      loadArchives.push({ file, tag, id });
    }
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
  return { importTars, loadArchives };
}
