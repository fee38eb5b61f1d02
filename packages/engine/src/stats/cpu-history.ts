import type { CpuStats } from '@berth/core';

/** One reading of a container's CPU counters: what a sample's `precpu_stats` and `preread` are. */
export interface CpuReading {
  /** When it was read, in milliseconds (Date.now()). */
  at: number;
  cpu: CpuStats;
}

/**
 * Docker's sampling interval, and the shortest window a `precpu_stats` is taken over when
 * an older reading is at hand: /proc/stat counts the host's time in ticks of 10 ms, so
 * over 1 s on two CPUs the host's delta is 200 ticks and a percentage is good to 0.5 %;
 * over 100 ms it would be good to 5 % only.
 */
export const minimumWindowMs = 1000;

/**
 * The earlier CPU readings of each running container, which a stats sample's
 * `precpu_stats` comes from, so that `stats?stream=false` answers at once with a CPU
 * percentage that means something (dockerd waits for its collector's next tick instead,
 * 1 to 2 s). Lifecycle, per container: `remember` at its start (a reading of the new
 * cgroup, or at engine start for the containers found running) and with every sample
 * answered; `previous` for the next sample; `forget` at its exit (the next run has a new
 * cgroup whose counters start again from zero) and at its removal. At most two readings
 * are kept per container, at least `minimumWindowMs` apart: `previous` gives the newest
 * one at least that old, else the oldest one kept. So a client polling every 5 s sees the
 * CPU used over those 5 s, a client polling fast sees it over 1 to 2 s, and the first
 * sample of a run covers the run so far. In memory only: nothing is read in the
 * background, and a container nobody asks about costs one reading at its start.
 */
export class CpuHistory {
  private readonly kept = new Map<string, CpuReading[]>();

  /** Keep `reading` of container `id` unless the newest one kept is younger than the minimum window. */
  remember(id: string, reading: CpuReading): void {
    const readings = this.kept.get(id);
    if (!readings) {
      this.kept.set(id, [reading]);
      return;
    }
    const newest = readings[readings.length - 1]!;
    if (reading.at - newest.at < minimumWindowMs) return;
    readings.push(reading);
    if (readings.length > 2) readings.shift();
  }

  /** The reading a sample taken at `now` compares with: the newest at least the minimum window old, else the oldest kept. */
  previous(id: string, now: number): CpuReading | undefined {
    const readings = this.kept.get(id);
    if (!readings) return undefined;
    for (let i = readings.length - 1; i >= 0; i--) if (now - readings[i]!.at >= minimumWindowMs) return readings[i];
    return readings[0];
  }

  forget(id: string): void {
    this.kept.delete(id);
  }

  /** How many containers have readings kept (for tests: forgetting must not leak). */
  get size(): number {
    return this.kept.size;
  }
}
