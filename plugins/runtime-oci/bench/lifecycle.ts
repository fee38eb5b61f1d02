// The runtime's own cost of a container's life: create + connect + start + wait of
// `true` through OciRuntime (berth-shim, runc create/start, the exit report), then
// delete; interleaved A B A B with `runc run` of an identical bundle, the floor any
// runtime built on runc pays (no shim, no state). Also: the resident memory of an idle
// berth-shim, and how long the in-process cleanup of an exited container
// (removeExitedRuncState) takes to give up when the container left a child cgroup
// (it should not wait for a cgroup that never empties). Prints figures, asserts
// nothing; Docker's figure for a whole `docker run` is bench/run-true.sh's.
//
//   make -s -C ../../native/shim
//   NODE_OPTIONS=--conditions=@berth/source node -r tsx/cjs bench/lifecycle.ts [runs]   (from plugins/runtime-oci, as root)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type OciRuntime, runcPlugin } from '../src/index.js';
import { removeExitedRuncState } from '../src/runc-exited-state.js';
import { cgroupDirs, Fixture, shimPids } from '../test/support/fixture.js';

const runs = Number(process.argv[2] ?? 20);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const line = (label: string, xs: number[]): void =>
  console.log(
    `${label.padEnd(44)} median ${median(xs).toFixed(1)} ms  (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, n=${xs.length})`,
  );

async function main(): Promise<void> {
  const fx = new Fixture();
  try {
    const runtime = (await runcPlugin.init(fx.context())) as OciRuntime;
    const bareRoot = path.join(fx.dir, 'runc-bare');
    const berth: number[] = [];
    const deletes: number[] = [];
    const bare: number[] = [];
    // One warm-up of each (page cache, runc's first exec), then A B A B.
    for (let i = -1; i < runs; i++) {
      const id = fx.newId();
      const req = fx.request(id, ['true']); // the bundle is made outside the timing
      const t0 = performance.now();
      await runtime.create(req);
      const streams = await runtime.connect(id);
      await runtime.start(id);
      const status = await runtime.wait(id);
      const ran = performance.now() - t0;
      streams.close();
      if (status.exitCode !== 0) throw new Error(`true exited ${status.exitCode}`);
      const t1 = performance.now();
      await runtime.delete(id);
      if (i >= 0) {
        berth.push(ran);
        deletes.push(performance.now() - t1);
      }

      const bareId = fx.newId();
      const bundle = fx.bundle(bareId, { args: ['true'] });
      const t2 = performance.now();
      const r = spawnSync('/usr/sbin/runc', ['--root', bareRoot, 'run', '--bundle', bundle, bareId], { stdio: 'ignore' });
      if (i >= 0) bare.push(performance.now() - t2);
      if (r.status !== 0) throw new Error(`runc run exited ${r.status}`);
    }

    const id = fx.newId();
    await runtime.create(fx.request(id, ['sleep', '100']));
    const streams = await runtime.connect(id);
    await runtime.start(id);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const status = readFileSync(`/proc/${fx.shimPid(id)}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
    streams.close();
    await runtime.kill(id, 'KILL');
    await runtime.wait(id);
    await runtime.delete(id);

    // removeExitedRuncState on an exited container holding a child cgroup (as systemd
    // in a container makes), which only runc's recursive removal clears.
    const giveUp: number[] = [];
    for (let i = 0; i < 5; i++) {
      const cid = fx.newId();
      await runtime.create(fx.request(cid, ['true']));
      await runtime.start(cid);
      await runtime.wait(cid);
      for (let j = 0; j < 300 && shimPids(cid).length > 0; j++) await new Promise((r) => setTimeout(r, 10));
      const parent = cgroupDirs(cid).find((d) => d.includes('/pids/')) ?? cgroupDirs(cid)[0]!;
      mkdirSync(path.join(parent, 'child'));
      const t = performance.now();
      const removed = await removeExitedRuncState(path.join(fx.dir, 'exec', 'state'), cid);
      giveUp.push(performance.now() - t);
      if (removed) throw new Error('removeExitedRuncState removed a cgroup with a child');
      await runtime.delete(cid);
    }

    line('OciRuntime create+connect+start+wait of true', berth);
    line('OciRuntime delete', deletes);
    line('runc run of the same bundle (no shim)', bare);
    console.log(`ratio OciRuntime / runc run                   ${(median(berth) / median(bare)).toFixed(2)}x`);
    console.log(`idle berth-shim VmRSS                        ${(rssKb / 1024).toFixed(2)} MiB`);
    line('removeExitedRuncState giving up (child cgroup)', giveUp);
  } finally {
    fx.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
