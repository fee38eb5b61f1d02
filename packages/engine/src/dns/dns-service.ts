import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type EventBus, EventBusToken, inject, injectable, type Logger, LoggerToken, token } from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { type NetworkService, NetworkServiceToken } from '../networks/network-service.js';
import { type NetworkStore, NetworkStoreToken } from '../networks/network-store.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { buildDnsRecords, type DnsContainerFacts } from './dns-record-builder.js';
import type { DnsRecords } from './dns-records.js';
import { ResolverControl } from './resolver-control.js';

/** How often berthd checks that the resolver answers while containers need it. */
const watchdogIntervalMs = 5000;

/**
 * The engine's embedded DNS server (dns/README.md): keeps the resolver process fed with
 * the records derived from the network model. Every change of the endpoint records
 * (a container's start or end, a network connect or disconnect) rebuilds the records,
 * writes them to `<exec-root>/dns/records.json` and has the resolver reload them before
 * the change's caller goes on, so a name exists before the process that owns it starts
 * and is gone once its endpoint is. A removed container's endpoint, released in the
 * background (NetworkService.detachLater), leaves the records when its release starts
 * (its `network disconnect` event), not when its record goes.
 *
 * Lifecycle: `start()` after the network sweep of a daemon start (the records of the
 * containers that kept running; the resolver a previous berthd left is adopted, or one
 * is started when a container needs it); `close()` at a clean shutdown stops the
 * resolver when no container needs it any more, and leaves it answering otherwise.
 * A failure to reach the resolver is logged, never the failure of a container's start;
 * while containers need it, a resolver that stopped answering is started again (checked
 * every 5 s).
 */
@injectable()
export class DnsService {
  private readonly control: ResolverControl;
  private readonly recordsFile: string;
  private queue: Promise<unknown> = Promise.resolve();
  private published = '';
  private started = false;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    @inject(EngineConfigToken) config: ResolvedEngineConfig,
    @inject(NetworkStoreToken) private readonly networks: NetworkStore,
    @inject(ContainerStoreToken) private readonly containers: ContainerStore,
    @inject(NetworkServiceToken) private readonly service: NetworkService,
    @inject(EventBusToken) events: EventBus,
    @inject(LoggerToken) private readonly log: Logger,
  ) {
    this.control = new ResolverControl(path.join(config.execRoot, 'dns'));
    this.recordsFile = path.join(this.control.dir, 'records.json');
    networks.onEndpointsChanged(() => (this.started ? this.publish() : Promise.resolve()));
    events.on('network.disconnect', () => void (this.started ? this.publish() : undefined));
  }

  /** Publish the records of the containers that kept running, adopting or starting the resolver as they need. */
  async start(): Promise<void> {
    this.started = true;
    await this.publish();
    // A resolver that died on its own (killed, out of memory) is started again with the records.
    this.watchdog = setInterval(() => void this.revive(), watchdogIntervalMs);
    this.watchdog.unref();
  }

  /** At a clean shutdown: the resolver stops when no container needs it (it keeps answering the running ones otherwise). */
  async close(): Promise<void> {
    this.started = false;
    clearInterval(this.watchdog);
    await this.serialised(async () => {
      if (this.needed()) return;
      await this.control.stop().catch((err) => this.log.warn('cannot stop the DNS resolver', { error: String(err) }));
      await fs.rm(this.control.dir, { recursive: true, force: true });
    });
  }

  /** The records as the network model gives them now. */
  records(): DnsRecords {
    return buildDnsRecords(
      this.networks.list(),
      (id) => this.networks.endpointsOf(id).filter((e) => !this.service.isReleasing(e)),
      (id) => this.facts(id),
    );
  }

  /** Rebuild the records and hand them to the resolver (started when a sandbox needs one); changes are applied in order. */
  publish(): Promise<void> {
    return this.serialised(async () => {
      const began = performance.now();
      try {
        const records = this.records();
        const text = JSON.stringify(records);
        if (text === this.published) return;
        const needed = records.sandboxes.length > 0;
        if (!needed && !(await this.control.alive())) {
          this.published = text;
          return;
        }
        await fs.mkdir(this.control.dir, { recursive: true, mode: 0o700 });
        // The exec root is volatile (/run/berth): atomic by rename, no fsync (the records die with a reboot, as the containers do).
        const tmp = `${this.recordsFile}.${process.pid}.tmp`;
        await fs.writeFile(tmp, text);
        await fs.rename(tmp, this.recordsFile);
        if (needed) await this.control.ensure();
        await this.control.command('reload');
        this.published = text;
        this.log.debug('DNS records published', {
          sandboxes: records.sandboxes.length,
          ms: Math.round((performance.now() - began) * 100) / 100,
        });
      } catch (err) {
        this.log.error('cannot update the embedded DNS server', { error: String(err) });
      }
    });
  }

  /** Start the resolver again when containers need it and it does not answer. */
  private async revive(): Promise<void> {
    if (!this.started || !this.needed() || (await this.control.alive())) return;
    this.log.warn('the DNS resolver does not answer: starting it again');
    this.published = '';
    await this.publish();
  }

  /** Whether a container needs the resolver (when the records cannot be built, assume one does: never stop it wrongly). */
  private needed(): boolean {
    try {
      return this.records().sandboxes.length > 0;
    } catch {
      return true;
    }
  }

  private facts(containerId: string): DnsContainerFacts | undefined {
    const record = this.containers.find(containerId);
    if (!record) return undefined;
    return {
      id: record.id,
      name: record.name,
      ...(record.config.Hostname && record.config.Hostname !== record.id.slice(0, 12) ? { hostname: record.config.Hostname } : {}),
      links: record.hostConfig.Links ?? [],
      dns: record.hostConfig.Dns ?? [],
      ...(record.state.Running && record.state.Pid > 0 ? { netns: `/proc/${record.state.Pid}/ns/net` } : {}),
    };
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => {});
    return next;
  }
}

export const DnsServiceToken = token<DnsService>('DnsService');
