import type { ContainerCreateBody, ContainerHealth, HealthLogEntry } from '@berth/core';
import { InvalidArgument } from '@berth/core';

// What a health check does, as dockerd decides it: pure rules, used by the create's
// checks (oci/) and the HealthMonitor.

export type HealthConfig = NonNullable<ContainerCreateBody['Healthcheck']>;

const second = 1e9; // the API's durations are nanoseconds
/** dockerd's defaults for a field left zero. */
export const healthDefaults = { interval: 30 * second, timeout: 30 * second, retries: 3, startPeriod: 0 };
/** Probes kept in `State.Health.Log`, and the bytes of output kept of each (dockerd's). */
const logEntries = 5;
export const maxOutput = 4096;

/** The command a health check runs, or undefined for none (no test, `["NONE"]`). */
export function probeCommand(test: string[] | null | undefined): string[] | undefined {
  if (!test || test.length === 0) return undefined;
  const [kind, ...rest] = test;
  if (kind === 'NONE') return undefined;
  if (kind === 'CMD') return rest.length > 0 ? rest : undefined;
  if (kind === 'CMD-SHELL') return rest.length > 0 ? ['/bin/sh', '-c', rest.join(' ')] : undefined;
  return undefined;
}

/** dockerd's checks of a create's Healthcheck, with its messages. */
export function checkHealthcheck(hc: ContainerCreateBody['Healthcheck']): void {
  if (!hc) return;
  const kind = hc.Test?.[0];
  if (kind !== undefined && !['NONE', 'CMD', 'CMD-SHELL'].includes(kind)) {
    throw new InvalidArgument(`Healthcheck.Test: unknown type ${JSON.stringify(kind)} (expected NONE, CMD or CMD-SHELL)`);
  }
  const minimum = 1e6; // 1 ms
  for (const field of ['Interval', 'Timeout', 'StartPeriod'] as const) {
    const value = hc[field] ?? 0;
    if (value !== 0 && value < minimum) throw new InvalidArgument(`${field} in Healthcheck cannot be less than 1ms`);
  }
  if ((hc.Retries ?? 0) < 0) throw new InvalidArgument('Retries in Healthcheck cannot be negative');
}

/**
 * The next health after one probe, as dockerd's health monitor decides: exit 0 is
 * healthy and ends the failing streak; a failure during the start period (while not yet
 * healthy) does not count; otherwise the streak grows and reaching `retries` is unhealthy.
 */
export function nextHealth(health: ContainerHealth, probe: HealthLogEntry, inStartPeriod: boolean, retries: number): ContainerHealth {
  const log = [...health.Log, probe].slice(-logEntries);
  if (probe.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log: log };
  if (inStartPeriod && health.Status !== 'healthy') return { ...health, Log: log };
  const streak = health.FailingStreak + 1;
  return { Status: streak >= retries ? 'unhealthy' : health.Status, FailingStreak: streak, Log: log };
}

/** What `docker ps` adds to a running container's status: ` (healthy)`, ` (health: starting)`. */
export function healthSuffix(health: ContainerHealth | undefined): string {
  if (!health) return '';
  return health.Status === 'starting' ? ' (health: starting)' : ` (${health.Status})`;
}

/**
 * A duration in milliseconds as Go's `time.Duration` prints it, which dockerd's timeout
 * message uses: `500ms`, `1s`, `1.5s`, `1m30s`, `2m0s`.
 */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${trimZeros(ms.toFixed(3))}ms`;
  const totalSeconds = ms / 1000;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = trimZeros((totalSeconds % 60).toFixed(3));
  if (hours) return `${hours}h${minutes}m${seconds}s`;
  if (minutes) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

function trimZeros(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}
