import * as path from 'node:path';
import { inject, injectable, token } from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';

/**
 * Where a container's files live: one place that knows the layout, so the store, the
 * root filesystems, the supervisor and the I/O service agree on it.
 *
 * ```
 * <data-root>/containers/<id>/container.json   the record
 *                             <id>-json.log    its output
 *                             bundle/          the OCI bundle (config.json)
 *                             rootfs/          the mount point of its root filesystem
 *                             hosts, hostname, resolv.conf, volumes/
 * <exec-root>/c/<first 32 hex of id>/          the runtime's live state (shim socket)
 *                  .../x/<first 16 hex of exec id>/   an exec's live state (its own shim)
 * <exec-root>/execs/<exec id>.json              the engine's record of an exec that runs
 * ```
 */
@injectable()
export class ContainerPaths {
  /** The directory of every container's directory. */
  readonly root: string;
  private readonly execRoot: string;

  constructor(@inject(EngineConfigToken) config: ResolvedEngineConfig) {
    this.root = path.join(config.dataRoot, 'containers');
    this.execRoot = config.execRoot;
  }

  /** The directory of one container's files. */
  dir(id: string): string {
    return path.join(this.root, id);
  }

  record(id: string): string {
    return path.join(this.root, id, 'container.json');
  }

  rootfs(id: string): string {
    return path.join(this.root, id, 'rootfs');
  }

  bundle(id: string): string {
    return path.join(this.root, id, 'bundle');
  }

  log(id: string): string {
    return path.join(this.root, id, `${id}-json.log`);
  }

  /**
   * The runtime's live state of a container. Keyed by the first 32 hex digits (128 bits,
   * still unique) because the shim's socket path inside it must fit in sun_path (107 bytes)
   * even under a long exec root.
   */
  stateDir(id: string): string {
    return path.join(this.stateRoot, id.slice(0, 32));
  }

  /** The directory of every container's runtime state directory. */
  get stateRoot(): string {
    return path.join(this.execRoot, 'c');
  }

  /** The runtime's live state of an exec: inside its container's, so it goes with it. */
  execStateDir(containerId: string, execId: string): string {
    return path.join(this.execStateDirs(containerId), execId.slice(0, 16));
  }

  /** Where every exec's state dir of a container is (execStateDir). */
  execStateDirs(containerId: string): string {
    return path.join(this.stateDir(containerId), 'x');
  }

  /** Where the engine keeps the records of running execs (exec-root: they matter only while the host runs). */
  execRecords(): string {
    return path.join(this.execRoot, 'execs');
  }
}

export const ContainerPathsToken = token<ContainerPaths>('ContainerPaths');
