import { DistributionError } from './distribution-error.js';

// The spec's grammar for a repository name: path components of lower-case alphanumerics
// joined by one period, one or two underscores, or any number of dashes.
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** The longest repository name the spec lets a client rely on (with a host prefix). */
export const MAX_NAME_LENGTH = 255;

/** True when `name` is a repository name the spec allows. */
export function isRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

/** Throws NAME_INVALID unless `name` is a valid repository name. */
export function checkRepositoryName(name: string): void {
  if (!isRepositoryName(name)) {
    throw new DistributionError('NAME_INVALID', `invalid repository name: "${name}"`, { name });
  }
}

/** True when `tag` is a tag the spec allows. */
export function isTag(tag: string): boolean {
  return TAG.test(tag);
}
