/**
 * Which driver instances (network drivers and IPAM drivers) have been given which
 * recorded networks since this engine started: at recovery (`restoreNetwork`/`createNetwork`,
 * `restorePool`/`restoreAddress`), or when they made the network. A driver found only
 * later (a Docker plugin that was not running when berthd started, discovered at its
 * first use) has been given nothing, so NetworkService restores a network into it on
 * first use instead of sending it calls about a network it never heard of. In memory:
 * every start begins empty, as the drivers' own memory does.
 */
export class RestoreLedger {
  private readonly given = new WeakMap<object, Set<string>>();

  has(driver: object, networkId: string): boolean {
    return this.given.get(driver)?.has(networkId) === true;
  }

  mark(driver: object, networkId: string): void {
    let ids = this.given.get(driver);
    if (!ids) {
      ids = new Set();
      this.given.set(driver, ids);
    }
    ids.add(networkId);
  }
}
