/** Linux signal names Docker's signal.ParseSignal knows, without `SIG`, and their numbers. */
const names: Record<string, number> = {
  ABRT: 6,
  ALRM: 14,
  BUS: 7,
  CHLD: 17,
  CLD: 17,
  CONT: 18,
  FPE: 8,
  HUP: 1,
  ILL: 4,
  INT: 2,
  IO: 29,
  IOT: 6,
  KILL: 9,
  PIPE: 13,
  POLL: 29,
  PROF: 27,
  PWR: 30,
  QUIT: 3,
  SEGV: 11,
  STKFLT: 16,
  STOP: 19,
  SYS: 31,
  TERM: 15,
  TRAP: 5,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  USR1: 10,
  USR2: 12,
  VTALRM: 26,
  WINCH: 28,
  XCPU: 24,
  XFSZ: 25,
  RTMIN: 34,
  RTMAX: 64,
};
for (let i = 1; i <= 15; i++) {
  names[`RTMIN+${i}`] = 34 + i;
  names[`RTMAX-${i}`] = 64 - i;
}

/**
 * Whether STOPSIGNAL accepts `signal` as Docker does: a non-zero number, or a name with
 * or without `SIG`, any case (`SIGTERM`, `term`, `RTMIN+3`).
 */
export function isValidStopSignal(signal: string): boolean {
  if (/^\d+$/.test(signal)) return Number(signal) !== 0;
  return Object.hasOwn(names, signal.toUpperCase().replace(/^SIG/, ''));
}
