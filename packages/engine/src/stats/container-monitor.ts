import { execFile } from 'node:child_process';
import * as os from 'node:os';
import {
  Conflict,
  type ContainerStatsSample,
  type ContainerTop,
  type CpuStats,
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
import { type CgroupLocation, cgroupPids, networkUsage, readCgroupUsage, systemCpuUsage } from './cgroup-usage.js';
import { filterPsOutput, psArguments } from './ps-table.js';

/** Between the two readings of a `stream=false` sample: long enough for a CPU percentage, short enough for `docker stats --no-stream`. */
const cpuWindowMs = 100;
/** A stream's samples come once a second, as dockerd's. */
const streamIntervalMs = 1000;

const zeroTime = '0001-01-01T00:00:00Z';

/**
 * What runs in a container and what it uses, read from its cgroup and /proc while it
 * runs: `stats` (Docker's stats samples: CPU, memory with its limit, pids, block I/O,
 * the network of the container's namespace) and `top` (the host's `ps`, narrowed to the
 * cgroup's processes, as dockerd does it). Owns nothing: every answer is read afresh.
 */
@injectable()
export class ContainerMonitor {
  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(EngineConfigToken) private readonly config: ResolvedEngineConfig,
    @inject(HostFactsToken) private readonly host: HostFacts,
  ) {}

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
   * Stats samples of a container. `stream: false` answers one: at once with `oneShot`
   * (no `precpu_stats`), else after a short second reading, so that a CPU percentage can
   * be computed from the pair. A stream sends one a second until `signal` aborts or the
   * container is removed. A container that does not run gives zeroed samples, as Docker's.
   */
  async *stats(ref: string, options: StatsOptions): AsyncIterable<ContainerStatsSample> {
    const record = this.store.get(ref);
    if (!options.stream) {
      if (options.oneShot || !record.state.Running) {
        yield this.sample(record, undefined);
        return;
      }
      const before = this.sample(record, undefined);
      await sleep(cpuWindowMs, options.signal);
      yield this.sample(record, before);
      return;
    }
    let previous: ContainerStatsSample | undefined;
    while (!options.signal?.aborted && this.store.find(record.id) === record) {
      const current = this.sample(record, previous);
      yield current;
      previous = current;
      await sleep(streamIntervalMs, options.signal);
    }
  }

  /** One sample of `record` now, with `previous` as its `precpu_stats`. */
  private sample(record: ContainerRecord, previous: ContainerStatsSample | undefined): ContainerStatsSample {
    const base = { name: `/${record.name}`, id: record.id };
    if (!record.state.Running || record.state.Pid === 0) return { ...emptySample(), ...base };
    const usage = readCgroupUsage(this.location(record));
    const totalMemory = os.totalmem();
    const cpu: CpuStats = {
      cpu_usage: {
        total_usage: usage.cpu.total,
        usage_in_kernelmode: usage.cpu.system,
        usage_in_usermode: usage.cpu.user,
        ...(usage.cpu.perCpu.length ? { percpu_usage: usage.cpu.perCpu } : {}),
      },
      system_cpu_usage: systemCpuUsage(),
      online_cpus: this.host.cpus,
      throttling_data: {
        periods: usage.cpu.periods,
        throttled_periods: usage.cpu.throttledPeriods,
        throttled_time: usage.cpu.throttledTime,
      },
    };
    const sample: ContainerStatsSample = {
      ...base,
      read: new Date().toISOString(),
      preread: previous?.read ?? zeroTime,
      num_procs: 0,
      pids_stats: { current: usage.pids.current, ...(usage.pids.limit !== undefined ? { limit: usage.pids.limit } : {}) },
      cpu_stats: cpu,
      precpu_stats: previous?.cpu_stats ?? emptyCpu(),
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
    // A container in the host's namespace, or in one with only `lo`, has no networks of its own.
    if (record.networkMode !== 'host') {
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
