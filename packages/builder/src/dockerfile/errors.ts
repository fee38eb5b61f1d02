import { InvalidArgument } from '@berth/core';

/**
 * A Dockerfile that cannot be built as written: the file, the line range and the
 * problem, in Docker's words where Docker has them. The message reads like Docker's
 * (`Dockerfile:7: unknown instruction: COPPY (did you mean COPY?)`); the fields let a
 * caller show the lines. It is an InvalidArgument (400): the request is wrong, not the
 * engine.
 */
export class DockerfileError extends InvalidArgument {
  constructor(
    /** The Dockerfile's name as the user gave it (`Dockerfile`, `build/app.Dockerfile`). */
    readonly file: string,
    /** First line of the instruction (1-based); 0 when the problem has no line. */
    readonly line: number,
    /** Last line of the instruction (continuations and heredocs included). */
    readonly endLine: number,
    /** The problem alone, without the location. */
    readonly problem: string,
  ) {
    super(line > 0 ? `${file}:${line}: ${problem}` : `${file}: ${problem}`);
  }
}

/** Lines of a Dockerfile, 1-based and inclusive: where an instruction was read. */
export interface SourceRange {
  startLine: number;
  endLine: number;
}

/** A problem worth telling the user that does not stop the build (Docker prints these). */
export interface DockerfileWarning {
  message: string;
  /** The line it is about, when it is about one. */
  line?: number;
}
