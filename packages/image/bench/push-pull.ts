// Push and pull of one big layer through Debian's reference registry on loopback, with
// `skopeo copy` of the same image beside it for scale. Usage, from packages/image:
//   NODE_OPTIONS=--conditions=@berth/source node -r tsx/cjs bench/push-pull.ts <layer.tar> <scratch-dir>
import { execFileSync } from 'node:child_process';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ImageStore, importRootfs, normalizeReference, pullImage, pushImage } from '@berth/image';
import { LocalRegistry } from '@berth/testkit/registry';

async function timed<T>(label: string, bytes: number, fn: () => Promise<T>): Promise<T> {
  const start = process.hrtime.bigint();
  const result = await fn();
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${label.padEnd(22)} ${s.toFixed(2)} s  ${(bytes / s / 1e6).toFixed(0)} MB/s of the layer tar`);
  return result;
}

async function main(): Promise<void> {
  const [layer, scratch] = process.argv.slice(2);
  if (!layer || !scratch) throw new Error('usage: push-pull.ts <layer.tar> <scratch-dir>');
  const size = (await fs.stat(layer)).size;
  const work = await fs.mkdtemp(path.join(scratch, 'bimg-pp-'));
  const registry = new LocalRegistry(path.join(work, 'registry-'));
  try {
    await registry.start();
    const name = `${registry.address}/bench/big:1`;
    const a = await ImageStore.open(path.join(work, 'a'));
    await importRootfs(a, createReadStream(layer, { highWaterMark: 1 << 20 }), { repo: name });
    await timed('push (gzip, upload)', size, () => pushImage(a, { reference: normalizeReference(name) }));
    await timed('push again (HEAD only)', size, () => pushImage(a, { reference: normalizeReference(name) }));
    const b = await ImageStore.open(path.join(work, 'b'));
    await timed('pull (download, scan)', size, () => pullImage(b, { reference: normalizeReference(name) }));
    await timed('pull again (no layer)', size, () => pullImage(b, { reference: normalizeReference(name) }));
    try {
      await timed('skopeo copy to dir:', size, async () =>
        execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${name}`, `dir:${path.join(work, 'skopeo')}`], {
          stdio: 'ignore',
        }),
      );
    } catch (err) {
      console.log(`skopeo: ${(err as Error).message.split('\n')[0]}`);
    }
  } finally {
    await registry.stop();
    await fs.rm(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
