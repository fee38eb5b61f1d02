// applyLayer (sha256 of every byte included) against GNU tar on the same layer tar,
// interleaved A B B A (the machine is noisy), each run after a sync. Usage, from packages/image:
//   NODE_OPTIONS=--conditions=@berth/source node -r tsx/cjs bench/apply-layer.ts <layer.tar> <scratch-dir> [rounds]
import { execFileSync } from 'node:child_process';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { applyLayer } from '@berth/image';

async function main(): Promise<void> {
  const [layer, scratch, roundsArg] = process.argv.slice(2);
  if (!layer || !scratch) throw new Error('usage: apply-layer.ts <layer.tar> <scratch-dir> [rounds]');
  const rounds = Number(roundsArg ?? 3);
  const times: Record<string, number[]> = { 'gnu tar -xpf': [], applyLayer: [] };
  for (let round = 0; round < rounds; round++) {
    // A B, then B A: whoever runs second would otherwise always share the disk with the
    // first one's writeback.
    const order = round % 2 === 0 ? Object.keys(times) : Object.keys(times).reverse();
    for (const tool of order) {
      const dir = path.join(scratch, `out-${round}`);
      await fs.mkdir(dir, { recursive: true });
      // Each run starts with no dirty data of the one before (not timed).
      execFileSync('sync');
      const start = process.hrtime.bigint();
      if (tool === 'applyLayer') await applyLayer(dir, createReadStream(layer, { highWaterMark: 1 << 20 }));
      else execFileSync('tar', ['-C', dir, '--same-owner', '-xpf', layer]);
      times[tool]!.push(Number(process.hrtime.bigint() - start) / 1e9);
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [tool, xs] of Object.entries(times)) {
    console.log(`${tool.padEnd(14)} median ${median(xs).toFixed(2)} s  (${xs.map((x) => x.toFixed(2)).join(', ')})`);
  }
  console.log(`ratio applyLayer / gnu tar: ${(median(times.applyLayer!) / median(times['gnu tar -xpf']!)).toFixed(2)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
