import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ContainerCreateBody } from '@berth/core';
import { buildSpec, type DockerSpecRequest, type HostFacts, readHostFacts, specInputFromDocker, specToJson } from '../../src/oci/index.js';

/**
 * Real runc runs of specs built by berth, for the tests of this folder. Everything
 * carries this process's prefix: temp dirs /tmp/berth-unit-spec-<pid>-*, runc state
 * under /tmp/berth-unit-spec-<pid>-runc, cgroups /berth-unit-spec-<pid>/<id>, container
 * ids bspec-<n>x<pid>. Per process, so that two runs of these tests at once (two
 * people on one machine) never remove each other's runc state or judge each other's
 * cgroups; and under berth-unit-, where the runner's leftover check looks. Each run
 * removes what it made.
 */

export const RUNC = '/usr/sbin/runc';
export const TEMP_PREFIX = `/tmp/berth-unit-spec-${process.pid}-`;
export const RUNC_ROOT = `${TEMP_PREFIX}runc`;
export const CGROUP_PARENT = `berth-unit-spec-${process.pid}`;

// runc creates its root on the first run; whichever test file runs last, it goes.
process.on('exit', () => rmSync(RUNC_ROOT, { recursive: true, force: true }));

const applets = [
  'sh',
  'true',
  'false',
  'cat',
  'echo',
  'id',
  'mount',
  'umount',
  'unshare',
  'touch',
  'mkdir',
  'sleep',
  'seq',
  'ls',
  'head',
  'wc',
  'grep',
  'stat',
  'hostname',
  'env',
  'sysctl',
];

export interface Rootfs {
  dir: string;
  rootfs: string;
  remove(): void;
}

/** A busybox rootfs with /etc/passwd and /etc/group, in a fresh TEMP_PREFIX* directory. */
export function makeRootfs(extra?: (rootfs: string) => void): Rootfs {
  const dir = mkdtempSync(TEMP_PREFIX);
  const rootfs = path.join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'mnt', 'root']) mkdirSync(path.join(rootfs, d), { recursive: true });
  copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  for (const a of applets) symlinkSync('busybox', path.join(rootfs, 'bin', a));
  writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\nstaff:x:50:nobody\nnogroup:x:65534:\n');
  extra?.(rootfs);
  return { dir, rootfs, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

let counter = 0;
/** A container id unique to this process: bspec-<n>x<pid> (its first 12 characters make a valid hostname). */
export function nextId(): string {
  return `bspec-${++counter}x${process.pid}`;
}

let facts: HostFacts | undefined;
export function hostFacts(): HostFacts {
  facts ??= readHostFacts();
  return facts;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  warnings: string[];
}

/**
 * Build the spec for `body` on a fresh rootfs and `runc run` it to completion.
 * `during` runs while the container runs (given the id), for reading its cgroup.
 */
export async function runDocker(
  body: ContainerCreateBody,
  opts: {
    setup?: (rootfs: string) => void;
    during?: (id: string) => Promise<void> | void;
    request?: Partial<DockerSpecRequest>;
    timeoutMs?: number;
  } = {},
): Promise<RunResult> {
  const root = makeRootfs(opts.setup);
  const id = nextId();
  try {
    const etc = path.join(root.dir, 'etc');
    mkdirSync(etc);
    writeFileSync(path.join(etc, 'hostname'), 'bspec\n');
    writeFileSync(path.join(etc, 'hosts'), '127.0.0.1\tlocalhost\n');
    writeFileSync(path.join(etc, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    const { input, warnings } = await specInputFromDocker({
      id,
      body,
      rootfsPath: root.rootfs,
      etcFiles: { hostname: path.join(etc, 'hostname'), hosts: path.join(etc, 'hosts'), resolvConf: path.join(etc, 'resolv.conf') },
      networkMode: 'private',
      cgroupParent: CGROUP_PARENT,
      host: hostFacts(),
      ...opts.request,
    });
    writeFileSync(path.join(root.dir, 'config.json'), specToJson(buildSpec(input)));
    const result = await runBundle(root.dir, id, opts.during, opts.timeoutMs ?? 30_000);
    return { ...result, warnings };
  } finally {
    cleanupContainer(id);
    root.remove();
  }
}

function runBundle(
  bundle: string,
  id: string,
  during: ((id: string) => Promise<void> | void) | undefined,
  timeoutMs: number,
): Promise<Omit<RunResult, 'warnings'>> {
  return new Promise((resolve, reject) => {
    const child = spawn(RUNC, ['--root', RUNC_ROOT, 'run', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      spawnSync(RUNC, ['--root', RUNC_ROOT, 'kill', id, 'KILL']);
      stderr += `\n[harness] killed after ${timeoutMs} ms`;
    }, timeoutMs);
    // Settles to the callback's error (or undefined), so a failure there is reported
    // after runc exits instead of escaping as an unhandled rejection.
    let duringDone: Promise<unknown> = Promise.resolve(undefined);
    if (during)
      duringDone = waitRunning(id)
        .then(() => during(id))
        .then(
          () => undefined,
          (err: unknown) => err ?? new Error('during failed'),
        );
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      void duringDone.then((err) => (err ? reject(err) : resolve({ code, stdout, stderr })));
    });
  });
}

async function waitRunning(id: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const st = spawnSync(RUNC, ['--root', RUNC_ROOT, 'state', id], { encoding: 'utf8' });
    if (st.status === 0 && JSON.parse(st.stdout).status === 'running') return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`container ${id} never ran`);
}

/** SIGKILL a running container (from a `during` callback). */
export function killContainer(id: string): void {
  spawnSync(RUNC, ['--root', RUNC_ROOT, 'kill', id, 'KILL'], { stdio: 'ignore' });
}

/** Remove the container's runc state and its cgroups (and the parent when empty). */
export function cleanupContainer(id: string): void {
  spawnSync(RUNC, ['--root', RUNC_ROOT, 'delete', '--force', id], { stdio: 'ignore' });
  for (const controller of readdirSync('/sys/fs/cgroup')) {
    for (const dir of [
      path.join('/sys/fs/cgroup', controller, CGROUP_PARENT, id),
      path.join('/sys/fs/cgroup', controller, CGROUP_PARENT),
    ]) {
      try {
        rmdirSync(dir);
      } catch {
        // absent, or still holding another test's container
      }
    }
  }
}
