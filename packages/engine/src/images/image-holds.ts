import { inject, injectable, NotFound, token } from '@berth/core';
import type { ImageStore } from '@berth/image';
import { ImageStoreToken } from './image-store-token.js';

/**
 * Who holds an image while it has no container record to show for it, so that a create
 * and an rmi of the same image never both go ahead: a container being created holds its
 * image from the moment it resolved it until its record is saved (then the record is the
 * user `ImageUsers` reports) or the create failed; an rmi that deletes the image holds it
 * from its users check until the image is gone.
 *
 * Without it, an rmi could check the image's users while a create was unpacking its
 * layers, delete the image, and leave a container on an image that no longer exists (and
 * a layer snapshot no image owns). Both checks are synchronous, so in Node's one thread
 * whichever comes first wins: a create that holds the image makes the rmi see a user
 * (`creators`); an rmi that holds it makes the create fail as if the image were gone.
 * Holds live in memory only: neither a create nor an rmi outlives the engine.
 */
@injectable()
export class ImageHolds {
  /** Image id → the containers being created from it. */
  private readonly creating = new Map<string, Set<string>>();
  /** Images an rmi is deleting. */
  private readonly removing = new Set<string>();
  /** Image id → how many holds builds have on it (a step's image, until its build ends). */
  private readonly building = new Map<string, number>();

  constructor(@inject(ImageStoreToken) private readonly store: ImageStore) {}

  /**
   * A create's hold on the image it resolved (as `name`); returns its release. NotFound
   * (`No such image: <name>`) if the image is being deleted or is gone since it was
   * resolved: nothing may be made on it.
   */
  holdForCreate(imageId: string, containerId: string, name: string): () => void {
    if (this.removing.has(imageId) || !this.exists(imageId)) throw new NotFound(`No such image: ${name}`);
    const holders = this.creating.get(imageId) ?? new Set<string>();
    this.creating.set(imageId, holders);
    holders.add(containerId);
    return () => {
      holders.delete(containerId);
      if (holders.size === 0 && this.creating.get(imageId) === holders) this.creating.delete(imageId);
    };
  }

  /** The containers being created from the image (not yet in the container store). */
  creators(imageId: string): string[] {
    return [...(this.creating.get(imageId) ?? [])];
  }

  /**
   * A build's hold on an image one of its steps made or starts from; returns its release
   * (idempotent). While held, an rmi is refused and a prune passes the image by.
   */
  holdForBuild(imageId: string): () => void {
    this.building.set(imageId, (this.building.get(imageId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.building.get(imageId) ?? 1) - 1;
      if (left > 0) this.building.set(imageId, left);
      else this.building.delete(imageId);
    };
  }

  /** Whether a build in progress holds the image. */
  heldByBuild(imageId: string): boolean {
    return this.building.has(imageId);
  }

  /**
   * An rmi's hold on the image it is about to delete, taken in the same synchronous step
   * as its users check (`creators` and `ImageUsers`); returns its release.
   */
  holdForRemoval(imageId: string): () => void {
    this.removing.add(imageId);
    return () => this.removing.delete(imageId);
  }

  private exists(imageId: string): boolean {
    try {
      return this.store.resolve(imageId) === imageId;
    } catch {
      return false;
    }
  }
}

export const ImageHoldsToken = token<ImageHolds>('ImageHolds');
