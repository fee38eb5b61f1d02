import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ContainerCreateBody } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allCapabilities, DEFAULT_CAPABILITIES, DEFAULT_DEVICE_RULES, DEFAULT_MASKED_PATHS } from '../../src/oci/index.js';
import { CGROUP_PARENT, hostFacts, killContainer, RUNC, RUNC_ROOT, runDocker, TEMP_PREFIX } from './runc-harness.js';

/**
 * Specs built by berth, run by the real runc 1.1.5 on this host's kernel. Each test
 * states a rule and checks what the kernel did with it.
 */

const sh = (script: string, hostConfig: ContainerCreateBody['HostConfig'] = {}, extra: ContainerCreateBody = {}): ContainerCreateBody => ({
  Cmd: ['sh', '-c', script],
  HostConfig: hostConfig,
  ...extra,
});

test.before(() => {
  assert.ok(existsSync(RUNC), `${RUNC} is needed for these tests`);
});

test.after(() => {
  rmSync(RUNC_ROOT, { recursive: true, force: true });
  // Nothing of ours may be left mounted or running.
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  assert.not.ok(mounts.includes(TEMP_PREFIX), `a mount under ${TEMP_PREFIX}* was left behind`);
  for (const controller of ['memory', 'pids', 'cpu', 'devices']) {
    assert.not.ok(existsSync(path.join('/sys/fs/cgroup', controller, CGROUP_PARENT)), `cgroup ${controller}/${CGROUP_PARENT} left behind`);
  }
});

test('true runs; the process holds exactly the default capabilities', async () => {
  const ok = await runDocker({ Cmd: ['true'] });
  assert.is(ok.code, 0, ok.stderr);
  const r = await runDocker(sh('grep CapEff /proc/self/status'));
  const all = allCapabilities();
  const mask = DEFAULT_CAPABILITIES.reduce((m, c) => m | (1n << BigInt(all.indexOf(c))), 0n);
  assert.is(r.stdout.trim().split(/\s+/)[1], mask.toString(16).padStart(16, '0'));
});

test('default capabilities forbid mount; --privileged allows it', async () => {
  const denied = await runDocker({ Cmd: ['mount', '-t', 'tmpfs', 'x', '/mnt'] });
  assert.ok(denied.code !== 0, 'mount must fail without CAP_SYS_ADMIN');
  const priv = await runDocker(sh('mount -t tmpfs x /mnt && grep " /mnt " /proc/self/mounts', { Privileged: true }));
  assert.is(priv.code, 0, priv.stderr);
  assert.match(priv.stdout, /^x \/mnt tmpfs /);
});

test('--privileged gets the host bounding set (here without CAP_SYS_RESOURCE) and runc accepts it', async () => {
  const r = await runDocker(sh('grep CapEff /proc/self/status', { Privileged: true }));
  assert.is(r.code, 0, r.stderr);
  const all = allCapabilities();
  const mask = hostFacts().boundingSet.reduce((m, c) => m | (1n << BigInt(all.indexOf(c))), 0n);
  assert.is(r.stdout.trim().split(/\s+/)[1], mask.toString(16).padStart(16, '0'));
});

test('default seccomp blocks unshare -U and unshare -n; unconfined shows it was seccomp', async () => {
  const user = await runDocker({ Cmd: ['unshare', '-U', 'true'] });
  assert.ok(user.code !== 0);
  assert.match(user.stderr, /Operation not permitted/);
  const net = await runDocker({ Cmd: ['unshare', '-n', 'true'] });
  assert.ok(net.code !== 0);
  // Without the filter, the same unprivileged user namespace is allowed by the kernel.
  const free = await runDocker({ Cmd: ['unshare', '-U', 'true'], HostConfig: { SecurityOpt: ['seccomp=unconfined'] } });
  assert.is(free.code, 0, free.stderr);
});

test('masked paths read nothing', async () => {
  const existing = DEFAULT_MASKED_PATHS.filter((p) => existsSync(p));
  assert.ok(existing.length > 0, 'this host has none of the masked paths');
  const checks = existing.map((p) =>
    statSync(p).isDirectory() ? `echo "${p} $(ls -A ${p} | wc -l)"` : `echo "${p} $(cat ${p} | wc -c) $(stat -c %t:%T ${p})"`,
  );
  const r = await runDocker(sh(`${checks.join('; ')}; echo "/proc/kcore $(head -c 16 /proc/kcore 2>/dev/null | wc -c)"`));
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  for (const p of existing) {
    const line = lines.find((l) => l.startsWith(`${p} `));
    // Directories: an empty tmpfs. Files: /dev/null (char 1:3) bound over them.
    assert.is(line, statSync(p).isDirectory() ? `${p} 0` : `${p} 0 1:3`, p);
  }
  assert.ok(lines.includes('/proc/kcore 0'));
});

test('/proc/sys is read-only even with CAP_NET_ADMIN; systempaths=unconfined lifts it', async () => {
  const write = 'grep " /proc/sys " /proc/self/mounts; echo 1 > /proc/sys/net/ipv4/ip_forward';
  const ro = await runDocker(sh(write, { CapAdd: ['NET_ADMIN'] }));
  assert.match(ro.stdout, /^proc \/proc\/sys proc ro,/);
  assert.ok(ro.code !== 0);
  assert.match(ro.stderr, /Read-only file system/);
  // The container's own network namespace: writing there changes nothing on the host.
  const rw = await runDocker(
    sh('echo 1 > /proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward', {
      CapAdd: ['NET_ADMIN'],
      SecurityOpt: ['systempaths=unconfined'],
    }),
  );
  assert.is(rw.code, 0, rw.stderr);
  assert.is(rw.stdout.trim(), '1');
});

test('--read-only refuses writes to / and to /tmp (as Docker), unless /tmp is a tmpfs', async () => {
  const ro = await runDocker(sh('touch /x; echo "root=$?"; touch /tmp/x; echo "tmp=$?"', { ReadonlyRootfs: true }));
  assert.match(ro.stdout, /root=1/);
  assert.match(ro.stdout, /tmp=1/);
  assert.match(ro.stderr, /Read-only file system/);
  const tmpfs = await runDocker(
    sh('touch /x; echo "root=$?"; touch /tmp/x; echo "tmp=$?"', { ReadonlyRootfs: true, Tmpfs: { '/tmp': 'size=1m' } }),
  );
  assert.match(tmpfs.stdout, /root=1/);
  assert.match(tmpfs.stdout, /tmp=0/);
  const rw = await runDocker(sh('touch /x && echo ok'));
  assert.is(rw.stdout.trim(), 'ok');
});

test('user resolution: -u nobody runs as 65534 with its /etc/group memberships', async () => {
  const r = await runDocker(sh('id -u; id -g; id -G'), {});
  assert.is(r.stdout, '0\n0\n0\n');
  const nobody = await runDocker(sh('id -u; id -g; id -G; echo $HOME', {}, { User: 'nobody' }));
  assert.is(nobody.code, 0, nobody.stderr);
  // The harness rootfs: nobody is 65534:65534 and a member of staff (50).
  assert.is(nobody.stdout, '65534\n65534\n65534 50\n/nonexistent\n');
});

test("hostname, HOSTNAME and the engine's /etc files", async () => {
  const r = await runDocker(sh('hostname; echo $HOSTNAME; cat /etc/hostname; cat /etc/resolv.conf'));
  const [h, env, file, resolv] = r.stdout.trim().split('\n');
  assert.is(h, env);
  assert.match(h as string, /^bspec-/);
  assert.is((h as string).length, 12);
  assert.is(file, 'bspec');
  assert.is(resolv, 'nameserver 127.0.0.1');
});

test('open-files limit is min(1048576, the host hard limit)', async () => {
  const r = await runDocker(sh('ulimit -n'));
  const hard = hostFacts().rlimits.RLIMIT_NOFILE?.hard ?? Infinity;
  assert.is(Number(r.stdout.trim()), Math.min(1048576, hard));
});

test('pids limit stops a fork loop, and pids.max holds the request', async () => {
  let pidsMax = '';
  // The first second leaves time to read the cgroup before the loop hits the limit.
  const limited = await runDocker(sh('sleep 1; for i in $(seq 1 30); do sleep 2 & done; wait; echo done', { PidsLimit: 10 }), {
    during: (id) => {
      pidsMax = readFileSync(path.join('/sys/fs/cgroup/pids', CGROUP_PARENT, id, 'pids.max'), 'utf8').trim();
    },
  });
  assert.is(pidsMax, '10');
  assert.ok(limited.code !== 0);
  assert.match(limited.stderr, /can't fork/);
  const free = await runDocker(sh('for i in $(seq 1 30); do sleep 1 & done; wait; echo done'));
  assert.is(free.stdout.trim(), 'done', free.stderr);
});

test('devices cgroup: what the kernel enforces is exactly the allow list of the spec', async () => {
  const listed: string[] = [];
  await runDocker(
    { Cmd: ['sleep', '30'] },
    {
      during: (id) => {
        listed.push(
          ...readFileSync(path.join('/sys/fs/cgroup/devices', CGROUP_PARENT, id, 'devices.list'), 'utf8')
            .trim()
            .split('\n'),
        );
        killContainer(id);
      },
    },
  );
  const star = (n: number | undefined) => (n === undefined ? '*' : String(n));
  const expected = DEFAULT_DEVICE_RULES.filter((r) => r.allow).map((r) => `${r.type ?? 'a'} ${star(r.major)}:${star(r.minor)} ${r.access}`);
  assert.equal([...listed].sort(), [...expected].sort());
});

test('memory limit: the cgroup holds the request (and twice it for memory+swap)', async () => {
  const limit = 64 * 1024 * 1024;
  const seen: Record<string, string> = {};
  const r = await runDocker(sh('sleep 30', { Memory: limit }), {
    during: (id) => {
      const dir = path.join('/sys/fs/cgroup/memory', CGROUP_PARENT, id);
      seen.limit = readFileSync(path.join(dir, 'memory.limit_in_bytes'), 'utf8').trim();
      if (existsSync(path.join(dir, 'memory.memsw.limit_in_bytes'))) {
        seen.memsw = readFileSync(path.join(dir, 'memory.memsw.limit_in_bytes'), 'utf8').trim();
      }
      killContainer(id);
    },
  });
  assert.is(seen.limit, String(limit));
  if (hostFacts().swapAccounting) assert.is(seen.memsw, String(2 * limit));
  assert.equal(r.warnings, []);
});

/**
 * The running Node binary and its shared libraries, each bound read-only at the path
 * the dynamic loader looks for it: a real glibc program inside the busybox rootfs.
 */
function nodeBinds(): string[] {
  const ldd = execFileSync('ldd', [process.execPath], { encoding: 'utf8' });
  const libs = [...ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1] as string);
  return [process.execPath, ...libs].map((p) => `${realpathSync(p)}:${p === process.execPath ? '/usr/bin/node' : p}:ro`);
}

test('glibc threads work under the default profile: clone3 answers ENOSYS so glibc falls back to clone', async () => {
  // A thread-pool job, then a worker thread: both need pthread_create.
  const script =
    "require('crypto').pbkdf2('a','b',1000,32,'sha256',(e,k)=>{new (require('worker_threads').Worker)('require(\"worker_threads\").parentPort.postMessage(6*7)',{eval:true}).on('message',m=>console.log('ok',k.length,m))})";
  const body = (SecurityOpt: string[]): ContainerCreateBody => ({
    Cmd: ['/usr/bin/node', '-e', script],
    HostConfig: { Binds: nodeBinds(), SecurityOpt },
  });
  const r = await runDocker(body([]));
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.trim(), 'ok 32 42');
  // Control: the same program when clone3 is refused with EPERM instead cannot start a thread.
  const eperm = JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
  });
  const refused = await runDocker(body([`seccomp=${eperm}`]));
  assert.ok(refused.code !== 0, 'with EPERM for clone3, thread creation should fail');
  assert.not.match(refused.stdout, /ok/);
});

test('a Docker-format seccomp profile file is converted and enforced', async () => {
  const dir = mkdtempSync(`${TEMP_PREFIX}prof-`);
  try {
    const file = path.join(dir, 'profile.json');
    writeFileSync(
      file,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        archMap: [
          { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] },
          { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: [] },
        ],
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
      }),
    );
    const r = await runDocker(sh('touch /tmp/f && echo touched; mkdir /tmp/d', { SecurityOpt: [`seccomp=${file}`] }));
    assert.match(r.stdout, /touched/);
    assert.ok(r.code !== 0);
    assert.match(r.stderr, /Permission denied/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
