import { arrayOf, boolean, integer, object, type Shape, string, stringArray } from './shape.js';
import type { ExecCreateBody } from './types.js';

/** `POST /containers/{id}/exec`'s body as Docker 1.41 types it: a mistyped field is a 400 naming it. */
export const execCreateShape: Shape<ExecCreateBody> = object<ExecCreateBody>({
  AttachStdin: boolean,
  AttachStdout: boolean,
  AttachStderr: boolean,
  DetachKeys: string,
  Tty: boolean,
  ConsoleSize: arrayOf(integer),
  Env: stringArray,
  Cmd: stringArray,
  Privileged: boolean,
  User: string,
  WorkingDir: string,
});
