import { readFileSync } from 'node:fs';

/** What berth reads of a process's `/proc/<pid>/stat`. */
export interface ProcStat {
  /** One letter: R, S, D, T, Z (a zombie: exited, not reaped yet), X (being reaped), ... */
  state: string;
  ppid: number;
  /** The process group. */
  pgrp: number;
  /** The session: a process that called setsid() leads its own (its pid). */
  session: number;
  /** When it started, in clock ticks after boot: with the pid, what names one process (a pid is reused, the pair is not). */
  startTime: number;
}

/**
 * `/proc/<pid>/stat` of `pid`, null when there is no such process. The only parser of that
 * file in berth: the command name is in parentheses and may hold spaces and parentheses,
 * so the fields are counted after its last `)`.
 */
export function readProcStat(pid: number | string): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Field 3 (state) is the first after ") "; field 22 (starttime) the 20th.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    state: fields[0]!,
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    session: Number(fields[3]),
    startTime: Number(fields[19]),
  };
}

/** Whether a process in this state has exited: a zombie (awaiting its reaper) or one being reaped. */
export function hasExited(stat: ProcStat): boolean {
  return stat.state === 'Z' || stat.state === 'X';
}

/** A process's start time (clock ticks after boot), null when there is no such process. */
export function processStartTime(pid: number): number | null {
  return readProcStat(pid)?.startTime ?? null;
}

/**
 * Whether `pid` is still the process that started at `startTime` and has not exited: a
 * zombie (exited, awaiting its reaper) or one being reaped counts as exited, a pid reused
 * by another process as gone. How a recorded process (a shim, a mount helper, a daemon
 * that owns a resource) is checked.
 */
export function isSameProcess(pid: number, startTime: number): boolean {
  const stat = readProcStat(pid);
  return stat !== null && !hasExited(stat) && stat.startTime === startTime;
}
