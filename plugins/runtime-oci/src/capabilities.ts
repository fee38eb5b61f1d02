/**
 * Linux capability names (as the OCI spec writes them, `CAP_CHOWN`) to their numbers
 * (linux/capability.h), for the capability sets of a direct exec, which the shim sets as
 * 64-bit masks (direct-exec-plan.ts).
 */
/** The capabilities by number (linux/capability.h), without their `CAP_` prefix. */
export const capabilityNames: readonly string[] = Object.freeze([
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
]);

const capabilityNumbers: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(capabilityNames.map((name, number) => [`CAP_${name}`, number])),
);

/**
 * The mask of a list of capability names, or undefined when one is not known here (a
 * newer kernel's: the runtime, which knows its own list, is then the one to apply it).
 */
export function capabilityMask(names: readonly string[] | undefined): bigint | undefined {
  let mask = 0n;
  for (const name of names ?? []) {
    const number = capabilityNumbers[name.toUpperCase().startsWith('CAP_') ? name.toUpperCase() : `CAP_${name.toUpperCase()}`];
    if (number === undefined) return undefined;
    mask |= 1n << BigInt(number);
  }
  return mask;
}
