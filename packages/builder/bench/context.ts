// The file side of a COPY of 1,000 small files (issue 21's bench Dockerfile), step by step:
// pack the directory as the CLI would, unpack it as POST /build does, resolve `COPY . /data`,
// hash it for the cache (cold, then with the build's cache warm), write it into an empty
// root, and write that root as a deterministic layer tar. Medians of `rounds`. Usage, from
// packages/builder:
//   NODE_OPTIONS=--conditions=@berth/source node -r tsx/cjs bench/context.ts [rounds] [files]
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ContentHashCache,
  contextFromTar,
  hashCopyPlan,
  packDirectoryContext,
  planCopy,
  writeCopyPlan,
  writeLayerTar,
} from '@berth/builder';

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile(cmd, args, (err) => (err ? reject(err) : resolve())));
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream);
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 5);
  const files = Number(process.argv[3] ?? 1000);
  const scratch = await fs.mkdtemp('/tmp/berth-bench-builder-');
  const times: Record<string, number[]> = {};
  const time = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    const result = await fn();
    times[name] ??= [];
    times[name].push(performance.now() - start);
    return result;
  };
  try {
    const src = path.join(scratch, 'src');
    for (let i = 0; i < files; i++) {
      const dir = path.join(src, `d${i % 20}`);
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(path.join(dir, `f${i}.txt`), `file ${i}\n`.repeat(20));
    }
    await fs.writeFile(path.join(src, 'Dockerfile'), 'FROM busybox\nCOPY . /data\n');
    for (let round = 0; round < rounds; round++) {
      const work = path.join(scratch, `work-${round}`);
      const packed = await time('pack (CLI side)', async () => {
        const p = await packDirectoryContext(src);
        const chunks: Buffer[] = [];
        for await (const c of p.tar) chunks.push(c as Buffer);
        return { dockerfile: p.dockerfile, bytes: Buffer.concat(chunks) };
      });
      const ctx = await time('unpack the context', () => contextFromTar([packed.bytes], { workDir: work, dockerfile: packed.dockerfile }));
      const tree = { root: ctx.root, ignore: ctx.ignore, symlinks: 'refuse' as const, name: 'the build context' };
      const plan = await time('plan COPY . /data', async () => planCopy(tree, { sources: ['.'], dest: '/data' }));
      const cache = new ContentHashCache();
      await time('hash (cold)', () => hashCopyPlan(plan, {}, cache));
      await time('hash (warm cache)', () => hashCopyPlan(planCopy(tree, { sources: ['.'], dest: '/data' }), {}, cache));
      const root = path.join(work, 'rootfs');
      await fs.mkdir(root);
      await time('write into the root', () => writeCopyPlan(plan, root));
      await time('layer tar', () => drain(writeLayerTar(root, { sourceDateEpoch: 0 })));
      // The floor beside them: GNU cp of the same tree, and GNU tar of it.
      await time('(cp -a, for scale)', () => run('cp', ['-a', ctx.root, path.join(work, 'cp')]));
      await time('(tar -c, for scale)', () => run('sh', ['-c', `tar -C ${root} -cf - . | cat > /dev/null`]));
      await ctx.dispose();
      await fs.rm(work, { recursive: true, force: true });
    }
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`${files} files, ${rounds} rounds, load average ${os.loadavg()[0]!.toFixed(2)}`);
  for (const [name, xs] of Object.entries(times)) console.log(`${name.padEnd(24)} median ${median(xs).toFixed(1)} ms`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
