import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as assert from 'uvu/assert';
import { daemonSuite, sleep, storageDriversOfHost } from './harness';

/**
 * Real containers through a real berthd. What the root filesystem's storage driver takes
 * part in runs once per driver the host supports (storageDriversOfHost), since the same
 * behaviour must hold whatever backs the root: the image's root and none of the host's, a
 * read-only root, the user and working directory looked up in the root, a bind mount whose
 * mount point is made in the root, a container in the background stopped and removed (its
 * root unmounted). The rest (exit code and output, PID 1, hostname, networking,
 * capabilities, seccomp, cgroup limits) is the runtime's and the engine's whatever backs
 * the root, so it runs on the first driver (overlay) only; the storage drivers' own
 * contracts are their conformance suite's, run for every driver by its package.
 */
const drivers = storageDriversOfHost();
for (const driver of drivers) {
  const test = daemonSuite(`containers (${driver})`, driver);
  /** A test of what does not depend on the storage driver: registered on the first driver's suite only. */
  const once = (name: string, handler: Parameters<typeof test>[1]): void => {
    if (driver === drivers[0]) test(name, handler);
  };

  once('the exit code of the command is the exit code of berth run', async ({ daemon }) => {
    const r = await daemon.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.is(r.code, 3);
    assert.is(r.stdout, 'out\n');
    assert.is(r.stderr, 'err\n');
  });

  once('PID 1 inside the container is the command', async ({ daemon }) => {
    const r = await daemon.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo $$; cat /proc/1/cmdline | tr "\\0" " "']);
    assert.is(r.code, 0, r.stderr);
    const [pid, cmdline] = r.stdout.split('\n');
    assert.is(pid, '1');
    assert.is(cmdline.trim(), 'sh -c echo $$; cat /proc/1/cmdline | tr "\\0" " "');
  });

  once('hostname defaults to the short id and --hostname sets it', async ({ daemon }) => {
    const d = await daemon.berth(['run', '-d', 'busybox', 'hostname']);
    assert.is(d.code, 0, d.stderr);
    const id = d.stdout.trim();
    assert.is((await daemon.berth(['wait', id])).stdout.trim(), '0');
    assert.is((await daemon.berth(['logs', id])).stdout.trim(), id.slice(0, 12));
    await daemon.berth(['rm', id]);
    const named = await daemon.berth(['run', '--rm', '--hostname', 'harbour', 'busybox', 'hostname']);
    assert.is(named.stdout.trim(), 'harbour');
  });

  once('--network none leaves only the loopback interface', async ({ daemon }) => {
    const r = await daemon.berth(['run', '--rm', '--network', 'none', 'busybox', 'ls', '/sys/class/net']);
    assert.is(r.code, 0, r.stderr);
    assert.equal(r.stdout.split(/\s+/).filter(Boolean), ['lo']);
  });

  test("the host's files are invisible inside", async ({ daemon }) => {
    const marker = `/berth-e2e-host-marker-${process.pid}`;
    writeFileSync(marker, 'host secret');
    try {
      const r = await daemon.berth(['run', '--rm', 'busybox', 'sh', '-c', `cat ${marker}; ls /`]);
      assert.is(r.code, 0);
      assert.not.ok(r.stdout.includes('host secret'));
      assert.ok(r.stderr.includes('No such file'), r.stderr);
      assert.ok(r.stdout.includes('bin'), 'the image root is visible');
      assert.not.ok(r.stdout.includes('work'), 'the host root is not');
    } finally {
      rmSync(marker, { force: true });
    }
  });

  test('--read-only refuses writes to the root filesystem', async ({ daemon }) => {
    const r = await daemon.berth(['run', '--rm', '--read-only', 'busybox', 'touch', '/newfile']);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /Read-only file system/);
    const rw = await daemon.berth(['run', '--rm', 'busybox', 'touch', '/newfile']);
    assert.is(rw.code, 0, rw.stderr);
  });

  once('the default capabilities forbid mount, --privileged allows it', async ({ daemon }) => {
    const mount = ['sh', '-c', 'mkdir -p /m && mount -t tmpfs none /m'];
    const r = await daemon.berth(['run', '--rm', 'busybox', ...mount]);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /operation not permitted|permission denied/i);
    const p = await daemon.berth(['run', '--rm', '--privileged', 'busybox', ...mount]);
    assert.is(p.code, 0, p.stderr);
  });

  once('the default seccomp profile blocks unshare; seccomp=unconfined does not', async ({ daemon }) => {
    // A user namespace needs no capability, so only seccomp stands in the way.
    const r = await daemon.berth(['run', '--rm', 'busybox', 'unshare', '-U', 'true']);
    assert.is.not(r.code, 0, 'unshare of a user namespace is blocked by the profile');
    assert.match(r.stderr, /operation not permitted/i);
    const u = await daemon.berth(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'unshare', '-U', 'true']);
    assert.is(u.code, 0, u.stderr);
  });

  once(
    'an exec refuses what the default seccomp profile refuses, in a container and in a later one with the same profile',
    async ({ daemon }) => {
      // With crun the first container of a profile execs under an optimized copy of crun's
      // program, later ones under the optimized program crun was handed (runtime-oci's
      // seccomp optimizer): the same decisions either way.
      for (const name of [`seccomp-a-${driver}`, `seccomp-b-${driver}`]) {
        const run = await daemon.berth(['run', '-d', '--name', name, 'busybox', 'sleep', '100']);
        assert.is(run.code, 0, run.stderr);
        try {
          const refused = await daemon.berth(['exec', name, 'unshare', '-U', 'true']);
          assert.is.not(refused.code, 0, `${name}: unshare of a user namespace is blocked in an exec`);
          assert.match(refused.stderr, /operation not permitted/i);
          const allowed = await daemon.berth(['exec', name, 'sh', '-c', 'mkdir /tmp/d && echo made']);
          assert.is(allowed.stdout.trim(), 'made', `${name}: ${allowed.stderr}`);
        } finally {
          await daemon.berth(['rm', '-f', name]);
        }
      }
    },
  );

  once('--memory 32m OOM-kills a 100 MB allocation and inspect says OOMKilled', async ({ daemon }) => {
    const r = await daemon.berth([
      'run',
      '--name',
      `oom-${driver}`,
      '--memory',
      '32m',
      'busybox',
      'dd',
      'if=/dev/zero',
      'of=/dev/null',
      'bs=100M',
      'count=1',
    ]);
    assert.is(r.code, 137, r.stderr);
    const i = await daemon.berth(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', `oom-${driver}`]);
    assert.is(i.stdout.trim(), 'true 137');
    await daemon.berth(['rm', `oom-${driver}`]);
  });

  once('--cpus and --memory become the cgroup limits the container sees', async ({ daemon }) => {
    const r = await daemon.berth([
      'run',
      '--rm',
      '--cpus',
      '0.5',
      '--memory',
      '64m',
      'busybox',
      'sh',
      '-c',
      'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/memory/memory.limit_in_bytes',
    ]);
    assert.is(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n'), ['50000', '100000', String(64 * 1024 * 1024)]);
  });

  once('--pids-limit stops a fork bomb', async ({ daemon }) => {
    const r = await daemon.berth([
      'run',
      '--rm',
      '--pids-limit',
      '10',
      'busybox',
      'sh',
      '-c',
      'n=0; for i in $(seq 1 40); do sleep 2 & n=$((n+1)); done; echo started $n; wait',
    ]);
    assert.match(r.stderr, /can't fork|Resource temporarily unavailable/);
  });

  test('-d runs in the background; ps, logs, stop, rm', async ({ daemon }) => {
    const name = `bg-${driver}`;
    const d = await daemon.berth(['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'echo started; sleep 100']);
    assert.is(d.code, 0, d.stderr);
    assert.match(d.stdout.trim(), /^[0-9a-f]{64}$/);
    const ps = await daemon.berth(['ps']);
    assert.ok(ps.stdout.includes(name), ps.stdout);
    assert.match(ps.stdout, /Up /);
    let logs = '';
    for (let i = 0; i < 100 && !logs.includes('started'); i++) {
      logs = (await daemon.berth(['logs', name])).stdout;
      if (!logs) await sleep(100);
    }
    assert.is(logs, 'started\n');
    const stop = await daemon.berth(['stop', '-t', '1', name]);
    assert.is(stop.code, 0, stop.stderr);
    const i = await daemon.berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]);
    assert.is(i.stdout.trim(), 'exited 137', 'sh as PID 1 ignores SIGTERM, so SIGKILL ended it');
    assert.is((await daemon.berth(['rm', name])).code, 0);
    assert.is((await daemon.berth(['inspect', name])).code, 1);
  });

  test('-e, -w, -u and --entrypoint reach the process', async ({ daemon }) => {
    const r = await daemon.berth([
      'run',
      '--rm',
      '-e',
      'GREETING=ahoy',
      '-w',
      '/tmp',
      '-u',
      'nobody',
      'busybox',
      'sh',
      '-c',
      'echo $GREETING $(pwd) $(id -u)',
    ]);
    assert.is(r.stdout.trim(), 'ahoy /tmp 65534', r.stderr);
    const e = await daemon.berth(['run', '--rm', '--entrypoint', 'echo', 'busybox', 'from', 'entrypoint']);
    assert.is(e.stdout.trim(), 'from entrypoint');
  });

  test('a bind mount shows host files, :ro refuses writes', async ({ daemon }) => {
    const dir = `${daemon.dir}/bind`;
    mkdirSync(dir);
    writeFileSync(`${dir}/hello.txt`, 'from the host\n');
    const r = await daemon.berth([
      'run',
      '--rm',
      '-v',
      `${dir}:/data`,
      'busybox',
      'sh',
      '-c',
      'cat /data/hello.txt; echo back > /data/back.txt',
    ]);
    assert.is(r.stdout, 'from the host\n', r.stderr);
    assert.is(readFileSync(`${dir}/back.txt`, 'utf8'), 'back\n');
    const ro = await daemon.berth(['run', '--rm', '-v', `${dir}:/data:ro`, 'busybox', 'touch', '/data/x']);
    assert.is.not(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
  });

  test.run();
}
