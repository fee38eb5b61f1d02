/**
 * An error the CLI reports itself: `message` goes to stderr as is and the process exits
 * with `exitCode`. Flag and usage mistakes are StatusErrors with docker's codes (125 for
 * a bad flag, 1 for a wrong number of arguments).
 */
export class StatusError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'StatusError';
  }
}

/** A flag the parser refuses (`unknown flag: --x`); the command adds the usage hint. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}
