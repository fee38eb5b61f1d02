/**
 * Runs tasks one at a time per key (a volume name), in the order they were queued;
 * tasks of different keys run concurrently. A failed task does not stop the next.
 * A key's queue is forgotten once it is empty, so the map holds only busy keys.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
