import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { definePlugin, type PluginContext, PluginSkipped, readMountInfo } from '@berth/core';
import { findExecutable, findShim } from './binary.js';
import { CompiledSeccompCache, OptimizedSeccompPrograms } from './compiled-seccomp.js';
import { removeExitedCrunState } from './crun-exited-state.js';
import { hybridCgroup2Mount, isCgroupHybrid, probeRuntime } from './crun-probe.js';
import { OciRuntime } from './oci-runtime.js';
import { removeExitedRuncState } from './runc-exited-state.js';
import { ShimCgroup } from './shim-cgroup.js';

/** `plugins.runtime.<name>` in the daemon config. */
export interface OciRuntimeConfig {
  /** The runtime binary; default: `<name>` looked up in PATH (then the sbin dirs). */
  path?: string;
  /** berth-shim; default: env BERTH_SHIM, else native/shim/berth-shim of this repository. */
  shimPath?: string;
  /**
   * The cgroup the shims move into, relative to each hierarchy's root (shim-cgroup.ts);
   * default `<cgroup-parent>/shims`; `""`: shims stay in the daemon's cgroup.
   */
  shimCgroup?: string;
  /**
   * Run execs without a runtime process where the container allows it (default true;
   * src/direct-exec-plan.ts says when it does not). false: every exec through the runtime.
   */
  directExec?: boolean;
}

function resolveParts(name: string, ctx: PluginContext): { binary: string; shimPath: string } {
  const config = ctx.config as OciRuntimeConfig;
  const binary = findExecutable(config.path ?? name);
  if (!binary) throw new PluginSkipped(config.path ? `${name} not found at ${config.path}` : `${name} not found in PATH`);
  const shimPath = findShim(config.shimPath);
  if (!shimPath) {
    throw new Error(
      `berth-shim not found (${config.shimPath ?? process.env.BERTH_SHIM ?? 'native/shim/berth-shim'}); build it with \`make -C native/shim\``,
    );
  }
  return { binary, shimPath };
}

function makeRuntime(name: string, ctx: PluginContext, binary: string, shimPath: string, hideMount?: string): OciRuntime {
  const { shimCgroup, directExec } = ctx.config as OciRuntimeConfig;
  if (directExec !== undefined && typeof directExec !== 'boolean')
    throw new Error(`directExec must be true or false, not ${JSON.stringify(directExec)}`);
  if (shimCgroup !== undefined && typeof shimCgroup !== 'string')
    throw new Error(`shimCgroup must be a string, not ${JSON.stringify(shimCgroup)}`);
  const log = ctx.log.child({ runtime: name });
  // Seccomp programs rewritten to load cheaply (seccomp-optimizer.ts), files in the exec root.
  const seccompPrograms = new OptimizedSeccompPrograms(path.join(ctx.execRoot, 'seccomp'));
  // Where crun makes a container's cgroups on a v1 or hybrid host: every v1 mount.
  const cgroupV1Hierarchies = readMountInfo()
    .filter((m) => m.fstype === 'cgroup')
    .map((m) => m.mountPoint);
  return new OciRuntime({
    name,
    binary,
    shimPath,
    stateRoot: path.join(ctx.execRoot, 'state'),
    log,
    execFifo: name === 'runc' ? 'read' : 'write',
    removeExitedState: name === 'runc' ? removeExitedRuncState : (root, id) => removeExitedCrunState(root, id, cgroupV1Hierarchies),
    shimCgroup: ShimCgroup.open(shimCgroup ?? `${ctx.cgroupParent}/shims`, log),
    hideMount,
    // crun allows devices of its own accord (the host's /dev/console) that runc does not.
    enforceBundleDevices: name === 'crun',
    compiledSeccomp: name === 'crun' ? new CompiledSeccompCache(binary, seccompPrograms) : undefined,
    // Execs without a runtime process. crun keeps the container's compiled seccomp program
    // (`seccomp.bpf` in its state, what its own exec loads); runc keeps none, so a runc
    // container with a seccomp filter still execs through runc (the program could only be
    // had by stopping its init with ptrace, or compiled again with libseccomp).
    directExec:
      directExec === false || !kernelHasDirectExec()
        ? undefined
        : {
            seccompProgram: name === 'crun' ? (root, id) => seccompPrograms.fileFor(path.join(root, id, 'seccomp.bpf')) : undefined,
          },
  });
}

/** runc, the default runtime: `--runtime runc`. */
export const runcPlugin = definePlugin({
  kind: 'runtime',
  name: 'runc',
  description: 'runc through berth-shim (one small monitor process per container)',
  init(ctx) {
    const { binary, shimPath } = resolveParts('runc', ctx);
    return makeRuntime('runc', ctx, binary, shimPath);
  },
});

/**
 * crun: `--runtime crun`. On a cgroup v1 hybrid host (v1 controllers, an empty cgroup2
 * hierarchy at /sys/fs/cgroup/unified), which crun 1.8 refuses, every crun process runs in
 * a mount namespace of its own without that cgroup2 mount (`hideMount`): crun then sees
 * a pure v1 host and applies every v1 controller as runc does. Skipped only when crun
 * fails even so.
 */
export const crunPlugin = definePlugin({
  kind: 'runtime',
  name: 'crun',
  description: 'crun through berth-shim (one small monitor process per container)',
  async init(ctx) {
    const { binary, shimPath } = resolveParts('crun', ctx);
    let hideMount: string | undefined;
    if (isCgroupHybrid()) {
      // Measured, not assumed: a newer crun may handle hybrid hosts as they are.
      const failure = await probeRuntime(binary, ctx.execRoot);
      if (failure && /hybrid|cgroup/i.test(failure)) {
        const wrapper = [shimPath, '--hide-mount', hybridCgroup2Mount, '--run'];
        const hidden = await probeRuntime(binary, ctx.execRoot, wrapper);
        // As above, only a cgroup message condemns crun: the probe's bundle (the host's / as
        // its root) cannot be pivoted into from the slave namespace, which a real one can.
        if (hidden && /hybrid|cgroup/i.test(hidden)) {
          throw new PluginSkipped(
            `crun${crunVersion(binary)} does not support cgroup v1 hybrid hosts ("${failure}"), nor runs without ${hybridCgroup2Mount} ("${hidden}")`,
          );
        }
        hideMount = hybridCgroup2Mount;
        ctx.log.debug(`crun runs without ${hybridCgroup2Mount}: it refuses this hybrid cgroup host`, { error: failure });
      } else if (failure) {
        // Any other probe failure may be the probe's own bundle (a read-only host root): not a reason to skip.
        ctx.log.warn('crun probe failed; enabling crun anyway', { error: failure });
      }
    }
    return makeRuntime('crun', ctx, binary, shimPath, hideMount);
  },
});

/**
 * Whether this kernel has what a direct exec uses (native/shim/direct-exec.c): setns on a
 * pidfd (5.8), clone3 into a cgroup (5.7), `close_range` with CLOSE_RANGE_CLOEXEC (5.11).
 * Older kernels exec through the runtime.
 */
export function kernelHasDirectExec(release = os.release()): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 5 || (major === 5 && minor >= 11);
}

/** " 1.8.1" from `crun --version`, or "" when it cannot be read. */
function crunVersion(binary: string): string {
  try {
    const version = execFileSync(binary, ['--version'], { encoding: 'utf8' })
      .split('\n')[0]!
      .replace(/^crun version\s*/, '');
    return version ? ` ${version}` : '';
  } catch {
    return '';
  }
}
