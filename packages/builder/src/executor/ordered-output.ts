/**
 * The output of stages built at the same time, written in Dockerfile order: the classic
 * builder's stream numbers its steps `Step N/M` through the file, so a client reads one
 * stage after the other. The first stage not yet finished writes through at once; a later
 * one is held until every stage before it has finished, then flushed.
 *
 * Lifecycle: `channel(i)` once per stage (in any order), each channel's `write`s, then its
 * `end()` (also when the stage failed). Writes after `end()` are dropped.
 */
export class OrderedOutput {
  private readonly held = new Map<number, string[]>();
  private readonly ended = new Set<number>();
  /** The position in `order` of the stage that writes through. */
  private current = 0;

  /** @param order The stages, in the order their output is shown. */
  constructor(
    private readonly order: readonly number[],
    private readonly sink: (text: string) => void,
  ) {}

  channel(stage: number): { write(text: string): void; end(): void } {
    return {
      write: (text) => {
        if (this.ended.has(stage)) return;
        if (this.order[this.current] === stage) this.sink(text);
        else this.heldOf(stage).push(text);
      },
      end: () => {
        this.ended.add(stage);
        this.advance();
      },
    };
  }

  private heldOf(stage: number): string[] {
    let list = this.held.get(stage);
    if (!list) {
      list = [];
      this.held.set(stage, list);
    }
    return list;
  }

  /** Past every ended stage: flush what the next ones held, until one is still running. */
  private advance(): void {
    while (this.current < this.order.length && this.ended.has(this.order[this.current]!)) {
      this.current++;
      const next = this.order[this.current];
      if (next === undefined) break;
      for (const text of this.held.get(next) ?? []) this.sink(text);
      this.held.delete(next);
    }
  }
}
