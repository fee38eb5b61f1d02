import type { ContainerRecord } from './container-record.js';

/**
 * The attributes of a container's event as dockerd gives them: what the event adds
 * (`execID`, `exitCode`...), then the container's labels over them, then `image` and
 * `name` over those (dockerd's `LogContainerEventWithAttributes` order). The labels are
 * what `docker events --filter label=…` matches.
 */
export function containerEventAttributes(record: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
  return { ...extra, ...(record.config.Labels ?? {}), image: record.imageRef, name: record.name };
}
