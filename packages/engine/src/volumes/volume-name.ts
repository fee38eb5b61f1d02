import { InvalidArgument } from '@berth/core';

/**
 * Docker's rule for a volume name: a letter or digit, then at least one of letters,
 * digits, `_`, `.` and `-`. It leaves no room for `/` or `..`, so a name is always one
 * path component of its own under the data root.
 */
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Throws `InvalidArgument` naming the volume unless `name` is a valid volume name. */
export function checkVolumeName(name: string): void {
  if (!VOLUME_NAME.test(name) || name.includes('..')) {
    throw new InvalidArgument(
      `create ${name}: ${JSON.stringify(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}
