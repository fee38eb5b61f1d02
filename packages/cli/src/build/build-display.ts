import type { JsonMessage } from '@berth/client';
import type { Output } from '../io.js';
import { ProgressDisplay } from '../registry/progress-display.js';

/**
 * How `berth build` shows a build. Not on a terminal: the daemon's text as it comes, as
 * `docker build` prints it (so scripts that read `Successfully built` keep working). On
 * a terminal: one line per step; while a RUN runs, its output below its line, dimmed and
 * indented; when the step is done its output is folded away (erased) and the line ends
 * with the step's result (`cached`, the new image's id) and how long it took. A step that
 * fails keeps its output on the screen.
 *
 * Lifecycle: `show` for each message of the stream, then `end()` once it ended (its last
 * partial line is written out).
 */
export class BuildDisplay {
  private readonly pulls: ProgressDisplay;
  /** The partial line a stream message left, until its newline comes. */
  private pending = '';
  /** Lines of output shown under the running step, erased when it is done. */
  private shownLines = 0;
  private stepStarted = 0;
  private cached = false;

  constructor(
    private readonly out: Output,
    private readonly now: () => number,
    private readonly terminal = out.isTTY === true,
  ) {
    this.pulls = new ProgressDisplay(out, terminal);
  }

  show(m: JsonMessage): void {
    if (m.stream === undefined) {
      if (m.status !== undefined) this.pulls.show(m);
      return;
    }
    if (!this.terminal) {
      this.out.write(m.stream);
      return;
    }
    this.pending += m.stream;
    for (let nl = this.pending.indexOf('\n'); nl >= 0; nl = this.pending.indexOf('\n')) {
      this.line(this.pending.slice(0, nl));
      this.pending = this.pending.slice(nl + 1);
    }
  }

  end(): void {
    if (this.terminal && this.pending !== '') this.line(this.pending);
    this.pending = '';
  }

  private line(text: string): void {
    if (/^Step \d+\/\d+ : /.test(text)) {
      this.shownLines = 0;
      this.cached = false;
      this.stepStarted = this.now();
      this.out.write(`\x1b[1m${text}\x1b[0m\n`);
      return;
    }
    if (text.startsWith(' ---> Running in ') || text.startsWith('Removing intermediate container ')) return;
    if (text === ' ---> Using cache') {
      this.cached = true;
      return;
    }
    const result = /^ ---> ([0-9a-f]{12})$/.exec(text);
    if (result) {
      this.fold();
      const seconds = ((this.now() - this.stepStarted) / 1000).toFixed(1);
      this.out.write(`\x1b[2m ---> ${result[1]}${this.cached ? ' (cached)' : ''} ${seconds}s\x1b[0m\n`);
      return;
    }
    if (/^(Successfully (built|tagged) |\[Warning\]|# Executing )/.test(text) || text === ' ---> ') {
      this.out.write(`${text}\n`);
      return;
    }
    // A RUN's output, under its step until the step is done.
    this.out.write(`\x1b[2m    ${text}\x1b[0m\n`);
    this.shownLines++;
  }

  /** Erase the output shown under the step that just finished. */
  private fold(): void {
    if (this.shownLines > 0) this.out.write(`\x1b[${this.shownLines}A\x1b[J`);
    this.shownLines = 0;
  }
}
