import type { EngineEvent, EventBus } from '@berth/core';

/**
 * The last events the engine published, so `docker events --since 5m` can replay
 * them (dockerd keeps a similar in-memory window). It only mirrors the engine's bus:
 * lost on restart, bounded, never a source of truth.
 */
export class EventHistory {
  private readonly ring: EngineEvent[] = [];
  private next = 0;
  private readonly listener = (event: EngineEvent) => {
    if (this.ring.length < this.capacity) this.ring.push(event);
    else {
      this.ring[this.next] = event;
      this.next = (this.next + 1) % this.capacity;
    }
  };

  constructor(
    private readonly bus: EventBus,
    private readonly capacity = 1024,
  ) {
    bus.on('event', this.listener);
  }

  /** Events with `sinceNs <= timeNano <= untilNs`, oldest first. */
  between(sinceNs: bigint, untilNs?: bigint): EngineEvent[] {
    const ordered = this.ring.length < this.capacity ? this.ring : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return ordered.filter((e) => e.timeNano >= sinceNs && (untilNs === undefined || e.timeNano <= untilNs));
  }

  close(): void {
    this.bus.off('event', this.listener);
  }
}
