import { SystemError } from '@berth/core';

/**
 * A RUN whose command exited non-zero. Its message is the classic builder's, which
 * `docker build` prints as the build's error:
 * `The command '/bin/sh -c false' returned a non-zero code: 1`.
 */
export class RunStepFailed extends SystemError {
  constructor(
    /** The command as the step's history shows it (`/bin/sh -c false`). */
    readonly command: string,
    readonly exitCode: number,
  ) {
    super(`The command '${command}' returned a non-zero code: ${exitCode}`);
  }
}
