import { execFile } from 'node:child_process';
import * as os from 'node:os';
import {
  Conflict,
  type ContainerStatsSample,
  type ContainerTop,
  type CpuStats,
  type EngineEvent,
  type EventBus,
  EventBusToken,
  InvalidArgument,
  inject,
  injectable,
  type StatsOptions,
  SystemError,
  token,
} from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { HostFactsToken } from '../containers/container-bundles.js';
import type { ContainerRecord } from '../containers/container-record.js';
import { cgroupsPathFor, type HostFacts } from '../oci/index.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import {
  type CgroupLocation,
  type CgroupUsage,
  cgroupPids,
  networkUsage,
  readCgroupCpu,
  readCgroupUsage,
  systemCpuUsage,
} from './cgroup-usage.js';
import { CpuHistory, type CpuReading } from './cpu-history.js';
import { filterPsOutput, psArguments } from './ps-table.js';

/** A stream's samples come once a second, as dockerd's. */
const streamIntervalMs = 1000;

const zeroTime = '0001-01-01T00:00:00Z';

/**
 * What runs in a container and what it uses, read from its cgroup and /proc while it
 * runs: `stats` (Docker's stats samples: CPU, memory with its limit, pids, block I/O,
 * the network of the container's namespace) and `top` (the host's `ps`, narrowed to the
 * cgroup's processes, as dockerd does it). Every answer is read afresh, except the
 * earlier CPU readings a sample's `precpu_stats` comes from (`cpu-history.ts`), kept in
 * memory per running container. Lifecycle: from its construction it takes a reading at
 * every `start` event and drops a container's readings at its `die` and `destroy`;
 * `rememberRunning`, at engine start, takes one of each container found running; `close`
 * stops listening. Owns nothing on disk.
 */
@injectable()
export class ContainerMonitor {
  private readonly history = new CpuHistory();
  private readonly onStart = (e: EngineEvent) => {
    // A new run, a new cgroup: readings of an earlier run would make its deltas negative.
    this.history.forget(e.id);
    const record = this.store.find(e.id);
    if (record?.state.Running && record.state.Pid > 0) this.history.remember(record.id, this.cpuReading(record, Date.now()));
  };
  private readonly onGone = (e: EngineEvent) => this.history.forget(e.id);

  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(EngineConfigToken) private readonly config: ResolvedEngineConfig,
    @inject(HostFactsToken) private readonly host: HostFacts,
    @inject(EventBusToken) private readonly events: EventBus,
  ) {
    events.on('container.start', this.onStart);
    events.on('container.die', this.onGone);
    events.on('container.destroy', this.onGone);
  }

  /** At engine start, after recovery: a first reading of each container found running (its run began before this engine). */
  rememberRunning(): void {
    const now = Date.now();
    for (const record of this.store.all()) {
      if (record.state.Running && record.state.Pid > 0) this.history.remember(record.id, this.cpuReading(record, now));
    }
  }

  close(): void {
    this.events.off('container.start', this.onStart);
    this.events.off('container.die', this.onGone);
    this.events.off('container.destroy', this.onGone);
  }

  /** How many containers have CPU readings kept (tests: a container's readings go with its run). */
  get keptReadings(): number {
    return this.history.size;
  }

  private location(record: ContainerRecord): CgroupLocation {
    return {
      version: this.host.cgroupVersion,
      relPath: cgroupsPathFor(record.id, record.hostConfig.CgroupParent || this.config.cgroupParent),
    };
  }

  /** `docker top`: Conflict unless the container runs; `ps` runs on the host with `psArgs`. */
  async top(ref: string, psArgs?: string): Promise<ContainerTop> {
    const record = this.store.get(ref);
    if (record.state.Restarting) throw new Conflict(`Container ${record.id} is restarting, wait until the container is running`);
    if (!record.state.Running) throw new Conflict(`Container ${record.id} is not running`);
    const pids = new Set(cgroupPids(this.location(record)));
    const output = await new Promise<string>((resolve, reject) => {
      execFile('ps', psArguments(psArgs), { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new SystemError(`ps: ${(stderr || err.message).trim()}`));
        else resolve(stdout);
      });
    });
    return filterPsOutput(output, pids);
  }

  /**
   * Stats samples of a container. `stream: false` answers one at once: its
   * `precpu_stats` is a kept reading (`cpu-history.ts`: one at least a second old when
   * there is one, else the oldest, at worst from the start of the run), so that a CPU
   * percentage comes from the pair without waiting for a second reading; `oneShot` leaves
   * `precpu_stats` zeroed, as dockerd does. A stream sends one a second, the first one
   * compared with a kept reading too, until `signal` aborts or the container is removed.
   * A container that does not run gives zeroed samples, as Docker's. `stream` with
   * `oneShot` is InvalidArgument (dockerd's 400).
   */
  async *stats(ref: string, options: StatsOptions): AsyncIterable<ContainerStatsSample> {
    const record = this.store.get(ref);
    if (options.stream && options.oneShot) throw new InvalidArgument('cannot have stream=true and one-shot=true');
    if (!options.stream) {
      const now = Date.now();
      yield this.sample(record, now, options.oneShot ? undefined : this.history.previous(record.id, now));
      return;
    }
    let previous = this.history.previous(record.id, Date.now());
    while (!options.signal?.aborted && this.store.find(record.id) === record) {
      const now = Date.now();
      const current = this.sample(record, now, previous);
      yield current;
      previous = { at: now, cpu: current.cpu_stats };
      await sleep(streamIntervalMs, options.signal);
    }
  }

  /** The CPU counters of a running container's cgroup (read now unless given) and the host's, at `now`. */
  private cpuReading(record: ContainerRecord, now: number, cpu: CgroupUsage['cpu'] = readCgroupCpu(this.location(record))): CpuReading {
    return {
      at: now,
      cpu: {
        cpu_usage: {
          total_usage: cpu.total,
          usage_in_kernelmode: cpu.system,
          usage_in_usermode: cpu.user,
          ...(cpu.perCpu.length ? { percpu_usage: cpu.perCpu } : {}),
        },
        // Shared by the samples of one burst (1 ms): 1/1000 of a one-second interval.
        system_cpu_usage: systemCpuUsage(1),
        online_cpus: this.host.cpus,
        throttling_data: { periods: cpu.periods, throttled_periods: cpu.throttledPeriods, throttled_time: cpu.throttledTime },
      },
    };
  }

  /** One sample of `record` at `now`, with `previous` as its `precpu_stats`; its own CPU reading is kept for the samples after it. */
  private sample(record: ContainerRecord, now: number, previous: CpuReading | undefined): ContainerStatsSample {
    const base = { name: `/${record.name}`, id: record.id };
    if (!record.state.Running || record.state.Pid === 0) return { ...emptySample(), ...base };
    const usage = readCgroupUsage(this.location(record));
    const totalMemory = os.totalmem();
    const reading = this.cpuReading(record, now, usage.cpu);
    this.history.remember(record.id, reading);
    const sample: ContainerStatsSample = {
      ...base,
      read: new Date(now).toISOString(),
      preread: previous ? new Date(previous.at).toISOString() : zeroTime,
      num_procs: 0,
      pids_stats: { current: usage.pids.current, ...(usage.pids.limit !== undefined ? { limit: usage.pids.limit } : {}) },
      cpu_stats: reading.cpu,
      precpu_stats: previous?.cpu ?? emptyCpu(),
      memory_stats: {
        usage: usage.memory.usage,
        ...(usage.memory.maxUsage !== undefined ? { max_usage: usage.memory.maxUsage } : {}),
        // Without a limit of its own, a container is limited by the host's memory (dockerd's answer).
        limit: Math.min(usage.memory.limit ?? totalMemory, totalMemory),
        stats: usage.memory.stats,
        ...(usage.memory.failcnt !== undefined ? { failcnt: usage.memory.failcnt } : {}),
      },
      blkio_stats: {
        ...emptySample().blkio_stats,
        io_service_bytes_recursive: usage.blkio.serviceBytes,
        io_serviced_recursive: usage.blkio.serviced,
      },
      storage_stats: {},
    };
    // A container in the host's namespace, or in one with only `lo`, has no networks of its
    // own: `none` is known to have only `lo`, so its namespace is not read at all (a file
    // less per sample, 50 at once for `docker stats` of 50 containers).
    if (record.networkMode !== 'host' && record.networkMode !== 'none') {
      const networks = networkUsage(record.state.Pid);
      if (Object.keys(networks).length > 0) sample.networks = networks;
    }
    return sample;
  }
}

export const ContainerMonitorToken = token<ContainerMonitor>('ContainerMonitor');

function emptyCpu(): CpuStats {
  return {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/** Docker's sample of a container that does not run: every counter absent or zero. */
function emptySample(): ContainerStatsSample {
  return {
    read: zeroTime,
    preread: zeroTime,
    name: '',
    id: '',
    num_procs: 0,
    pids_stats: {},
    cpu_stats: emptyCpu(),
    precpu_stats: emptyCpu(),
    memory_stats: {},
    blkio_stats: {
      io_service_bytes_recursive: null,
      io_serviced_recursive: null,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    storage_stats: {},
  };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
