// Throughput of importRootfs, saveArchive and loadArchive on one big layer. Usage, from packages/image:
//   NODE_OPTIONS=--conditions=@berth/source node -r tsx/cjs bench/import-save-load.ts <layer.tar> <scratch-dir>
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ImageStore, importRootfs, loadArchive, saveArchive } from '@berth/image';

async function timed<T>(label: string, bytes: number, fn: () => Promise<T>): Promise<T> {
  const start = process.hrtime.bigint();
  const result = await fn();
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${label.padEnd(8)} ${s.toFixed(2)} s  ${(bytes / s / 1e6).toFixed(0)} MB/s`);
  return result;
}

async function main(): Promise<void> {
  const [layer, scratch] = process.argv.slice(2);
  if (!layer || !scratch) throw new Error('usage: import-save-load.ts <layer.tar> <scratch-dir>');
  const size = (await fs.stat(layer)).size;
  const work = await fs.mkdtemp(path.join(scratch, 'bimg-isl-'));
  try {
    const a = await ImageStore.open(path.join(work, 'a'));
    const { id } = await timed('import', size, () => importRootfs(a, createReadStream(layer, { highWaterMark: 1 << 20 }), { repo: 'big' }));
    const archive = path.join(work, 'big.tar');
    await timed('save', size, async () => pipeline(await saveArchive(a, [id]), createWriteStream(archive)));
    const b = await ImageStore.open(path.join(work, 'b'));
    const loaded = await timed('load', size, () => loadArchive(b, createReadStream(archive, { highWaterMark: 1 << 20 })));
    if (loaded.images[0]?.id !== id) throw new Error('round trip changed the image id');
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
