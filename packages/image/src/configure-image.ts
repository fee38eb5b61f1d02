import { scratchConfig } from './commit-image.js';
import type { Digest } from './digest.js';
import type { ContainerConfig, HistoryEntry, ImageConfig } from './image-config.js';
import type { ImageStore } from './image-store.js';

/** What `configureImage` makes an image from: a build step that changes only the config. */
export interface ConfigureImageOptions {
  /** The image it derives from; absent for `scratch` (the image then has no layers). */
  parent?: Digest;
  /** The new image's runtime config, whole (not merged into the parent's). */
  config: ContainerConfig;
  /** The history line: `/bin/sh -c #(nop)  ENV A=b`. */
  createdBy: string;
  comment?: string;
  /** The image's `author` (MAINTAINER); default the parent's. */
  author?: string;
  /** Creation time (default: now). */
  created?: Date;
}

/**
 * An image with the parent's layers and a new config (ENV, CMD, LABEL… in a build): no
 * layer is added, and its history line says so (`empty_layer`). Stored in one step with
 * its parent recorded, as a commit; returns its id. Making the same image twice (same
 * parent, config, line and time) returns the same id.
 */
export async function configureImage(store: ImageStore, options: ConfigureImageOptions): Promise<Digest> {
  const parent = options.parent === undefined ? undefined : await store.get(options.parent);
  const base = parent?.config ?? scratchConfig();
  const created = (options.created ?? new Date()).toISOString();
  const history: HistoryEntry = { created, created_by: options.createdBy, empty_layer: true };
  if (options.comment) history.comment = options.comment;
  if (options.author) history.author = options.author;
  const config: ImageConfig = {
    ...base,
    created,
    config: structuredClone(options.config),
    history: [...(base.history ?? []), history],
  };
  if (options.author) config.author = options.author;
  return store.adding(async () => {
    const { digest } = await store.content.ingestBytes(JSON.stringify(config));
    const [image] = await store.createImages('commit', [{ config: digest, ...(parent ? { parent: parent.id } : {}) }]);
    return image!.id;
  });
}
