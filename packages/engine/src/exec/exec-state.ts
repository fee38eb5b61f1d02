import type { RuntimeProcess } from '@berth/core';
import type { ContainerDrivers } from '../containers/container-drivers.js';
import type { ContainerStore } from '../state/container-store.js';

/**
 * Remove an exec monitor's state dir through its container's runtime
 * (`Runtime.releaseExec`, which waits for the monitor to end first). Nothing to do when the
 * container or its runtime is gone: the container's state, the exec's with it, went then.
 */
export function releaseExecState(store: ContainerStore, drivers: ContainerDrivers, containerId: string, stateDir: string): Promise<void> {
  const container = store.find(containerId);
  const runtime = container && drivers.findRuntime(container.runtime);
  return runtime ? runtime.releaseExec(container.id, stateDir) : Promise.resolve();
}

/**
 * End an exec monitor that ran nothing (a prepared or spare one): the runtime's kill before
 * the start discards it (it records that nothing ran and ends), then its state goes.
 */
export async function endUnstartedMonitor(
  store: ContainerStore,
  drivers: ContainerDrivers,
  containerId: string,
  process: Pick<RuntimeProcess, 'kill' | 'streams'>,
  stateDir: string,
): Promise<void> {
  await process.kill('SIGKILL').catch(() => {});
  process.streams.close();
  await releaseExecState(store, drivers, containerId, stateDir);
}
