// One applyLayer run, for profiling: node --cpu-prof -r tsx/cjs bench/apply-once.ts <layer.tar> <dir>
import { createReadStream, promises as fs } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { applyLayer } from '@berth/image';

async function main(): Promise<void> {
  const [layer, dir] = process.argv.slice(2);
  await fs.mkdir(dir!, { recursive: true });
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const start = process.hrtime.bigint();
  const r = await applyLayer(dir!, createReadStream(layer!, { highWaterMark: 1 << 20 }));
  delay.disable();
  console.log(`${r.entries} entries, ${r.tarSize} bytes in ${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(2)} s`);
  // How long the event loop was held: what other requests of a daemon would wait.
  console.log(`event loop delay: p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`);
  await fs.rm(dir!, { recursive: true, force: true });
}
void main();
