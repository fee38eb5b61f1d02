import * as assert from 'uvu/assert';
import { busyboxTar, daemonSuite, sleep } from './harness';

/** The real docker CLI 28 against berthd, unchanged. */
const test = daemonSuite('docker CLI', 'overlay');

test('docker load reads a docker-archive', async ({ daemon }) => {
  const load = await daemon.docker(['load', '-i', busyboxTar]);
  assert.is(load.code, 0, load.stderr);
  assert.match(load.stdout, /Loaded image: busybox:latest/);
});

test('docker version and docker info', async ({ daemon }) => {
  const v = await daemon.docker(['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}}']);
  assert.is(v.code, 0, v.stderr);
  assert.is(v.stdout.trim(), '1.41 linux');
  const i = await daemon.docker(['info', '--format', '{{.Driver}} {{.CgroupVersion}} {{.DefaultRuntime}}']);
  assert.is(i.code, 0, i.stderr);
  // The default runtime: BERTH_E2E_RUNTIME when the harness sets one, else crun where its
  // plugin runs here, else runc.
  const plugins = await daemon.berth(['plugins', 'ls']);
  const crunRuns = /^runtime\s+crun\s+ok\b/m.test(plugins.stdout);
  assert.is(i.stdout.trim(), `overlay 1 ${process.env.BERTH_E2E_RUNTIME ?? (crunRuns ? 'crun' : 'runc')}`);
});

test('docker images lists the loaded image', async ({ daemon }) => {
  const r = await daemon.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.is(r.code, 0, r.stderr);
  assert.ok(r.stdout.split('\n').includes('busybox:latest'), r.stdout);
});

test('docker images REPO lists only REPO`s tags of an image that has other names too', async ({ daemon }) => {
  for (const name of ['other/repo:one', 'busybox:second']) {
    const tagged = await daemon.docker(['tag', 'busybox', name]);
    assert.is(tagged.code, 0, tagged.stderr);
  }
  try {
    const r = await daemon.docker(['images', 'busybox', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.is(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').filter(Boolean).sort(), ['busybox:latest', 'busybox:second']);
    const other = await daemon.docker(['images', 'other/repo', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.equal(other.stdout.split('\n').filter(Boolean), ['other/repo:one']);
  } finally {
    await daemon.docker(['rmi', 'other/repo:one', 'busybox:second']);
  }
});

test('an image without a name is listed by docker images -a, as <none>', async ({ daemon }) => {
  // A rootfs tar imported without a repository: the image has neither a tag nor a digest.
  const imported = await daemon.docker(['import', busyboxTar]);
  assert.is(imported.code, 0, imported.stderr);
  const id = imported.stdout.trim();
  try {
    const quiet = await daemon.docker(['images', '-aq', '--no-trunc']);
    assert.ok(quiet.stdout.split('\n').includes(id), `${id} in: ${quiet.stdout}`);
    const table = await daemon.docker(['images', '-a', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    assert.match(table.stdout, new RegExp(`<none>:<none> ${id.slice(7, 19)}`));
  } finally {
    await daemon.docker(['rmi', id]);
  }
});

test('docker run --rm prints the output and returns the exit code', async ({ daemon }) => {
  const hi = await daemon.docker(['run', '--rm', 'busybox', 'echo', 'hi']);
  assert.is(hi.code, 0, hi.stderr);
  assert.is(hi.stdout, 'hi\n');
  const three = await daemon.docker(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']);
  assert.is(three.code, 3);
});

test('docker run -d, ps, logs, inspect, stop, rm', async ({ daemon }) => {
  const d = await daemon.docker(['run', '-d', '--name', 'x', 'busybox', 'sh', '-c', 'echo up; sleep 100']);
  assert.is(d.code, 0, d.stderr);
  const id = d.stdout.trim();
  const ps = await daemon.docker(['ps']);
  assert.ok(ps.stdout.includes(id.slice(0, 12)) && ps.stdout.includes(' x\n'), ps.stdout);
  let logs = '';
  for (let i = 0; i < 100 && !logs; i++) {
    logs = (await daemon.docker(['logs', 'x'])).stdout;
    if (!logs) await sleep(100);
  }
  assert.is(logs, 'up\n');
  const inspect = await daemon.docker(['inspect', 'x']);
  assert.is(inspect.code, 0, inspect.stderr);
  const [obj] = JSON.parse(inspect.stdout);
  assert.is(obj.Id, id);
  assert.is(obj.Name, '/x');
  assert.is(obj.State.Running, true);
  assert.equal(obj.Config.Cmd, ['sh', '-c', 'echo up; sleep 100']);
  const stop = await daemon.docker(['stop', '-t', '1', 'x']);
  assert.is(stop.code, 0, stop.stderr);
  assert.is((await daemon.docker(['rm', 'x'])).code, 0);
  const gone = await daemon.docker(['inspect', 'x']);
  assert.is(gone.code, 1);
  assert.match(gone.stderr, /No such object: x/);
});

test('docker run -i passes piped stdin written before start, and its end', async ({ daemon }) => {
  const r = await daemon.docker(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo done >&2'], 'line1\nline2\n');
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'line1\nline2\n');
  assert.is(r.stderr, 'done\n');
});

test('docker stats --no-stream shows each running container with a CPU % of its recent use; docker ps shows their fields', async ({
  daemon,
}) => {
  const busy = await daemon.docker(['run', '-d', '--name', 'busy', 'busybox', 'sh', '-c', 'while :; do :; done']);
  assert.is(busy.code, 0, busy.stderr);
  const idle = await daemon.docker(['run', '-d', '--name', 'idle', '-l', 'role=idle', 'busybox', 'sleep', '100']);
  assert.is(idle.code, 0, idle.stderr);
  try {
    // Until the loop has used 200 ms of CPU (one-shot samples: they wait for nothing).
    for (let i = 0; i < 200; i++) {
      const r = await daemon.request('GET', '/v1.41/containers/busy/stats?stream=0&one-shot=1');
      if (JSON.parse(r.body).cpu_stats.cpu_usage.total_usage >= 200e6) break;
      await sleep(50);
    }
    const stats = await daemon.docker(['stats', '--no-stream', '--format', '{{json .}}']);
    assert.is(stats.code, 0, stats.stderr);
    const rows = stats.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const row = (name: string) => rows.find((r) => r.Name === name);
    assert.ok(row('busy') && row('idle'), stats.stdout);
    assert.is(row('busy').ID, busy.stdout.trim().slice(0, 12));
    // A precpu_stats from the start of the run (or a second before): the loop's share of
    // the host since then. One from the host's boot, or none, would show about 0.0x %.
    const busyPercent = Number.parseFloat(row('busy').CPUPerc);
    assert.ok(busyPercent >= 1, `busy loop at ${row('busy').CPUPerc}`);
    assert.match(row('idle').CPUPerc, /^\d+\.\d\d%$/);
    assert.match(row('idle').MemUsage, /^\d+(\.\d+)?[KMG]iB \/ \d+(\.\d+)?[KMG]iB$/);
    assert.is(row('idle').PIDs, '1');
    // eth0 on the default bridge is counted (lo never is), as docker stats counts it.
    assert.match(row('idle').NetIO, /^\d+(\.\d+)?[kMG]?B \/ \d+(\.\d+)?[kMG]?B$/);

    const ps = await daemon.docker(['ps', '--no-trunc', '--format', '{{json .}}']);
    assert.is(ps.code, 0, ps.stderr);
    const entry = ps.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((e) => e.Names === 'idle');
    assert.ok(entry, ps.stdout);
    assert.is(entry.ID, idle.stdout.trim());
    assert.is(entry.Image, 'busybox');
    assert.is(entry.Command, '"sleep 100"');
    assert.is(entry.State, 'running');
    assert.match(entry.Status, /^Up /);
    assert.is(entry.Labels, 'role=idle');
    assert.is(entry.Networks, 'bridge', 'the default network');
    assert.is(entry.Ports, '');
    const sized = await daemon.docker(['ps', '-a', '--size', '--filter', 'name=idle', '--format', '{{.Names}} {{.Size}}']);
    assert.is(sized.code, 0, sized.stderr);
    assert.match(sized.stdout.trim(), /^idle \d+(\.\d+)?k?B \(virtual \d+(\.\d+)?[kM]B\)$/);
  } finally {
    await daemon.docker(['rm', '-f', 'busy', 'idle']);
  }
});

test('docker errors name the object', async ({ daemon }) => {
  const r = await daemon.docker(['rm', 'ghost']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /No such container: ghost/);
});

test.run();
