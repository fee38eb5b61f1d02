import { InvalidArgument } from '@berth/core';

/**
 * Which `--sysctl` keys a container may set: only those the kernel keeps per
 * namespace, so setting them cannot change the host. The list is Docker's:
 * IPC keys (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*) need a private ipc
 * namespace, net.* a private network namespace.
 */
const ipcKeys = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

export interface SysctlNamespaces {
  /** The container has its own network namespace. */
  privateNetwork: boolean;
  /** The container has its own ipc namespace. */
  privateIpc: boolean;
}

/** Validate the requested sysctls; returns them unchanged. */
export function checkSysctls(sysctls: Readonly<Record<string, string>> | null | undefined, ns: SysctlNamespaces): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(sysctls ?? {})) {
    if (typeof value !== 'string') throw new InvalidArgument(`sysctl "${key}": the value must be a string`);
    const isIpc = ipcKeys.has(key) || key.startsWith('fs.mqueue.');
    const isNet = key.startsWith('net.');
    if (!isIpc && !isNet) {
      throw new InvalidArgument(
        `sysctl "${key}" is not allowed in a container: only net.*, kernel.msg*, kernel.sem, kernel.shm* and fs.mqueue.* are namespaced`,
      );
    }
    if (isNet && !ns.privateNetwork) {
      throw new InvalidArgument(`sysctl "${key}" is not allowed with the host's network namespace: it would change the host`);
    }
    if (isIpc && !ns.privateIpc) {
      throw new InvalidArgument(`sysctl "${key}" is not allowed with the host's ipc namespace: it would change the host`);
    }
    out[key] = value;
  }
  return out;
}
