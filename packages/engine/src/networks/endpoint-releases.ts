/**
 * The endpoint releases under way in the background: those of removed containers, which
 * NetworkService gives back after the removal instead of on its path (a veth's deletion
 * waits for an RCU grace period in the kernel, tens of milliseconds on a busy host).
 *
 * Lifecycle of one: `track` when it starts (its endpoint record still on disk and in the
 * store: the truth recovery finishes from if the daemon dies meanwhile), forgotten when
 * it settles (its record deleted, or, after a failure, left for recovery's sweep). What
 * must not see a release half done waits for it: `settled(networkId)` before handing out
 * an address on the network or removing it, `settled()` at shutdown. `isReleasing`
 * hides the endpoint from views (the container it belonged to is gone already).
 * Memory only, no lock: NetworkService calls it from one event loop.
 */
export class EndpointReleases {
  private readonly pending = new Map<string, Map<string, Promise<void>>>();

  /** Run `release` of the endpoint `endpointId` on `networkId` in the background; its failure is the caller's to log inside it. */
  track(networkId: string, endpointId: string, release: () => Promise<void>): void {
    const ofNetwork = this.pending.get(networkId) ?? new Map<string, Promise<void>>();
    this.pending.set(networkId, ofNetwork);
    const done = release()
      .catch(() => {})
      .finally(() => {
        ofNetwork.delete(endpointId);
        if (ofNetwork.size === 0 && this.pending.get(networkId) === ofNetwork) this.pending.delete(networkId);
      });
    ofNetwork.set(endpointId, done);
  }

  /** Whether an endpoint's release is under way. */
  isReleasing(networkId: string, endpointId: string): boolean {
    return this.pending.get(networkId)?.has(endpointId) ?? false;
  }

  /** Resolves once the releases under way on `networkId` (on every network without one) have settled; at once when there are none. */
  async settled(networkId?: string): Promise<void> {
    const networks = networkId === undefined ? [...this.pending.values()] : [this.pending.get(networkId)];
    const waits = networks.flatMap((ofNetwork) => [...(ofNetwork?.values() ?? [])]);
    if (waits.length > 0) await Promise.all(waits);
  }
}
