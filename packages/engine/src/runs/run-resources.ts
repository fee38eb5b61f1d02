import { promises as fs, rmSync } from 'node:fs';
import * as path from 'node:path';
import {
  type AdoptResult,
  type ExitStatus,
  InvalidArgument,
  inject,
  injectable,
  type Logger,
  LoggerToken,
  type RuntimeResources,
  SystemError,
  token,
} from '@berth/core';
import { type ContainerBundles, ContainerBundlesToken } from '../containers/container-bundles.js';
import { type ContainerDrivers, ContainerDriversToken } from '../containers/container-drivers.js';
import { type ContainerPaths, ContainerPathsToken } from '../containers/container-paths.js';
import type { ContainerRecord } from '../containers/container-record.js';
import { type ContainerVolumes, ContainerVolumesToken } from '../containers/container-volumes.js';
import { extraHostLines, hostsFile, writeHostsInPlace } from '../containers/etc-files.js';
import { isContainerMode } from '../containers/network-attachments.js';
import { joinedContainer } from '../containers/shared-network.js';
import { type ContainerLink, parseLinks } from '../dns/links.js';
import { type ContainerIo, ContainerIoToken } from '../io/container-io.js';
import { runtimeLogRequest } from '../io/log-config.js';
import type { EndpointRecord } from '../networks/network-record.js';
import { type RootFilesystems, RootFilesystemsToken } from '../rootfs/root-filesystems.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { elapsed } from './timing.js';

/** What `adopt` finds of a run a previous engine started (see core's AdoptResult). */
export type AdoptedRun = AdoptResult;

/**
 * What a run holds in the kernel, taken and given back: the mounted root filesystem, the
 * runtime's container (its shim, cgroup and state directory), the network endpoint, and
 * the I/O connection. `launch` takes them in that order and gives back what it took when
 * a step fails; `release` gives them back after the process is gone; `adopt` reconnects
 * to a run a previous engine launched. Never touches the record: the supervisor does.
 */
@injectable()
export class RunResources {
  constructor(
    @inject(ContainerDriversToken) private readonly drivers: ContainerDrivers,
    @inject(RootFilesystemsToken) private readonly rootfs: RootFilesystems,
    @inject(ContainerIoToken) private readonly io: ContainerIo,
    @inject(ContainerPathsToken) private readonly paths: ContainerPaths,
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(ContainerBundlesToken) private readonly bundles: ContainerBundles,
    @inject(LoggerToken) private readonly log: Logger,
    @inject(ContainerVolumesToken) private readonly volumes: ContainerVolumes,
  ) {}

  /**
   * Start a run of `record`: returns the pid of the container's process and how long each
   * phase took. On failure everything taken is given back before the error is thrown.
   */
  async launch(record: ContainerRecord): Promise<{ pid: number; phases: Record<string, number> }> {
    const began = performance.now();
    const phases: Record<string, number> = {};
    const runtime = this.drivers.runtime(record.runtime);
    // An unknown network, or a joined container that does not run, fails before anything is taken.
    const joined = isContainerMode(record.networkMode) ? joinedContainer(this.store, record) : undefined;
    if (!joined) await this.drivers.checkNetworks(record);
    const links = this.linkedRunning(record);
    const stateDir = this.paths.stateDir(record.id);
    const undo: Array<() => Promise<unknown>> = [];
    try {
      await this.rootfs.ensureMounted(record.id);
      undo.push(async () => this.rootfs.unmount(record.id));
      // The volumes' drivers mount them (the first run to need each) before the runtime binds them.
      const moved = await this.volumes.acquire(record);
      undo.push(() => this.volumes.release(record));
      await this.bundles.rebindVolumes(record.id, moved);
      phases.volumes = elapsed(began);
      // The joined container's namespace, by the pid it runs now (it changes at each of its starts).
      if (joined) await this.bundles.joinNetworkNamespace(record.id, `/proc/${joined.state.Pid}/ns/net`);
      undo.push(() => fs.rm(stateDir, { recursive: true, force: true }));
      let pid: number;
      try {
        ({ pid } = await runtime.create({
          id: record.id,
          bundle: this.paths.bundle(record.id),
          stateDir,
          ...runtimeLogRequest(record.hostConfig.LogConfig, this.paths.log(record.id)),
          openStdin: !!record.config.OpenStdin,
          terminal: !!record.config.Tty,
        }));
      } catch (err) {
        throw runtimeError(err);
      }
      phases.create = elapsed(began);
      undo.push(() => runtime.delete(record.id));
      if (!joined) {
        const endpoints = await this.drivers.attach(record, pid);
        undo.push(() => this.drivers.detach(record));
        // /etc/hosts names the container at its addresses, which exist only now.
        if (endpoints.some((e) => e.ipAddress)) await this.writeHosts(record, endpoints, links);
      }
      this.io.connect(record.id, await runtime.connect(record.id));
      phases.attached = elapsed(began);
      await runtime.start(record.id);
      phases.started = elapsed(began);
      return { pid, phases };
    } catch (err) {
      for (const step of undo.reverse())
        await step().catch((e) => this.log.warn('start rollback step failed', { id: record.id, error: String(e) }));
      throw err;
    }
  }

  /**
   * Rewrite a container's /etc/hosts for the endpoints it has now: the `--add-host` lines,
   * then its hostname at each address, in the order it joined the networks (a `network
   * connect` adds a line, a disconnect takes one away, as dockerd's sandbox does). Links
   * on a network without the embedded DNS server (the default bridge) are hosts lines too,
   * as Docker's legacy links; `links` defaults to the linked containers running now.
   */
  async writeHosts(
    record: ContainerRecord,
    endpoints: EndpointRecord[],
    links: Array<{ link: ContainerLink; target: ContainerRecord }> = this.linkedFound(record),
  ): Promise<void> {
    const extra = extraHostLines(record.hostConfig.ExtraHosts, this.drivers.hostGateway());
    const names = [record.config.Hostname || record.id.slice(0, 12)];
    for (const endpoint of endpoints) {
      if (!this.drivers.usesEmbeddedDns(endpoint.networkId)) extra.push(...this.drivers.linkHostLines(endpoint, links));
    }
    const own = endpoints.flatMap((e) => (e.ipAddress ? [{ address: e.ipAddress, names }] : []));
    await writeHostsInPlace(path.join(this.paths.dir(record.id), 'hosts'), hostsFile(extra, ...own));
  }

  /** The containers `record` links to, each required to run (as dockerd refuses the start otherwise). */
  private linkedRunning(record: ContainerRecord): Array<{ link: ContainerLink; target: ContainerRecord }> {
    return parseLinks(record.hostConfig.Links).map((link) => {
      const target = this.store.find(link.target);
      if (!target?.state.Running) {
        throw new InvalidArgument(`Cannot link to a non running container: /${link.target} AS /${record.name}/${link.alias}`);
      }
      return { link, target };
    });
  }

  /** The containers `record` links to that run now (a hosts rewrite after a network change skips the others). */
  private linkedFound(record: ContainerRecord): Array<{ link: ContainerLink; target: ContainerRecord }> {
    return parseLinks(record.hostConfig.Links).flatMap((link) => {
      const target = this.store.find(link.target);
      return target?.state.Running ? [{ link, target }] : [];
    });
  }

  /** Send a signal (a normalised name, `SIGTERM`) to the run's process. */
  signal(record: ContainerRecord, signal: string): Promise<void> {
    return this.drivers.runtime(record.runtime).kill(record.id, signal);
  }

  /** Freeze the run's processes (the runtime's cgroup freezer). */
  pause(record: ContainerRecord): Promise<void> {
    return this.drivers.runtime(record.runtime).pause(record.id);
  }

  /** Thaw the run's processes. */
  resume(record: ContainerRecord): Promise<void> {
    return this.drivers.runtime(record.runtime).resume(record.id);
  }

  /** Change the run's cgroup limits in place. */
  update(record: ContainerRecord, resources: RuntimeResources): Promise<void> {
    return this.drivers.runtime(record.runtime).update(record.id, resources);
  }

  /** Resolves with the run's exit status, through the runtime's shim. */
  wait(record: ContainerRecord): Promise<ExitStatus> {
    return this.drivers.runtime(record.runtime).wait(record.id);
  }

  /**
   * The containers whose record does not say running but whose runtime state exists:
   * what a crash between a start's runtime create and the durable write of its record
   * leaves. A state directory of no container at all is only logged: nothing tells
   * which runtime made it.
   */
  async runsNotRecorded(): Promise<ContainerRecord[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.paths.stateRoot);
    } catch {
      return [];
    }
    const found: ContainerRecord[] = [];
    for (const name of names) {
      const record = this.store.find(name);
      if (!record) {
        this.log.warn('runtime state of no container', { dir: path.join(this.paths.stateRoot, name) });
        continue;
      }
      if (!record.state.Running) found.push(record);
    }
    return found;
  }

  /**
   * Reconnect to a run launched by an earlier engine, or learn how it ended. Undefined
   * when the record's runtime is not loaded in this engine: nobody can tell, so the
   * record is left as it is.
   */
  async adopt(record: ContainerRecord): Promise<AdoptedRun | undefined> {
    const runtime = this.drivers.findRuntime(record.runtime);
    if (!runtime) return undefined;
    const found = await runtime.adopt(record.id, this.paths.stateDir(record.id));
    if (found.state === 'running') this.io.connect(record.id, await runtime.connect(record.id));
    return found;
  }

  /**
   * Undo a run that was created and never started (its init still waits): kill the init,
   * then give back everything as for an exit. The user's command never ran.
   */
  async discardUnstarted(record: ContainerRecord): Promise<void> {
    await this.drivers
      .findRuntime(record.runtime)
      ?.kill(record.id, 'SIGKILL')
      .catch((err) => this.log.warn('cannot kill an unstarted container', { id: record.id, error: String(err) }));
    await this.release(record);
  }

  /**
   * Unmount the root filesystem of a container that holds no run and is not freshly
   * created (whose rootfs stays mounted from create to its first exit): what a start cut
   * before its record was written ahead leaves mounted. A no-op when nothing is mounted.
   */
  unmountIdleRootfs(record: ContainerRecord): Promise<void> {
    return this.rootfs.unmount(record.id);
  }

  /**
   * Give back what a run holds: network endpoint, runtime state, its hold on its volumes, rootfs mount (unless
   * `keepRootfs`: the caller unmounts it). The process is gone, so these are independent
   * and run side by side. Failures are logged, not thrown. `endpointsLater` (a removal:
   * the container goes, nothing attaches it again) starts the endpoint's release in the
   * background instead of waiting for it (NetworkService.detachLater).
   */
  async release(record: ContainerRecord, options: { keepRootfs?: boolean; endpointsLater?: boolean } = {}): Promise<void> {
    const steps: Array<() => Promise<unknown> | unknown> = [
      () => (options.endpointsLater ? this.drivers.detachLater(record) : this.drivers.detach(record)),
      async () => {
        await this.drivers.findRuntime(record.runtime)?.delete(record.id);
        // The runtime's delete removes its state dir; this catches one that did not. Sync:
        // almost always a no-op stat, where the async rm took 0.4-1.3 ms of threadpool
        // round trips on the path of every run --rm.
        rmSync(this.paths.stateDir(record.id), { recursive: true, force: true });
      },
      () => (options.keepRootfs ? undefined : this.rootfs.unmount(record.id)),
      () => this.volumes.release(record),
    ];
    await Promise.all(
      steps.map(async (step) => {
        try {
          await step();
        } catch (err) {
          this.log.warn('cleanup step failed', { id: record.id, error: String(err) });
        }
      }),
    );
  }
}

export const RunResourcesToken = token<RunResources>('RunResources');

/** The runtime's create error as Docker reports it: a bad command is the user's mistake (400). */
function runtimeError(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (/executable file not found|no such file or directory|permission denied|not a directory/i.test(message)) {
    return new InvalidArgument(message);
  }
  return new SystemError(message, { cause: err });
}
