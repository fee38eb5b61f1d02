import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  inject,
  injectable,
  isBerthError,
  type Logger,
  LoggerToken,
  ownerLabels,
  SnapshotLabels,
  type StorageDriver,
  StorageDriverToken,
  token,
} from '@berth/core';
import type { ImageRecord, ImageStore } from '@berth/image';
import { applyLayer } from '@berth/image';
import { setXattr, unmountAll } from '@berth/native';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { type DriverMounts, DriverMountsToken } from '../rootfs/driver-mounts.js';
import { applyTarXattrs } from '../rootfs/tar-xattrs.js';
import { ImageStoreToken } from './image-store-token.js';

/**
 * The bridge from image layers to the storage driver: an image's layers become
 * committed snapshots named by chain ID the first time a container needs them.
 * Unpacking goes through the driver's own mounts (prepare → mount → apply the tar →
 * unmount → commit), so whiteouts are applied by deleting through the union view
 * whatever the driver. Two creates of one image share the work of each layer.
 */
@injectable()
export class LayerUnpacker {
  /** Layers being unpacked, by chain ID. */
  private readonly unpacking = new Map<string, Promise<void>>();
  private readonly tmp: string;

  constructor(
    @inject(ImageStoreToken) private readonly images: ImageStore,
    @inject(StorageDriverToken) private readonly storage: StorageDriver,
    @inject(EngineConfigToken) config: ResolvedEngineConfig,
    @inject(LoggerToken) private readonly log: Logger,
    @inject(DriverMountsToken) private readonly mounts: DriverMounts,
  ) {
    this.tmp = path.join(config.dataRoot, 'tmp');
  }

  /** Make sure every layer of the image is a committed snapshot; returns the top chain ID (undefined: no layers). */
  async ensureLayers(imageId: string): Promise<string | undefined> {
    const image = await this.images.get(imageId);
    for (let i = 0; i < image.chainIds.length; i++) {
      const chainId = image.chainIds[i];
      let pending = this.unpacking.get(chainId);
      if (!pending) {
        pending = this.unpackLayer(image, i).finally(() => this.unpacking.delete(chainId));
        this.unpacking.set(chainId, pending);
      }
      await pending;
    }
    return image.chainIds.at(-1);
  }

  /**
   * After a crash, at start-up (before anything unpacks or removes an image):
   *
   * - an extraction never outlives the engine that started it, so every extraction
   *   snapshot (known by its owner label) and every mount under the extraction directory
   *   is a leftover: unmounted, removed, and the directory emptied; so is a view the
   *   differ made (owner `differ`) and its mount under the same directory;
   * - a layer snapshot (owner `image`) lives while an image refers to its chain ID: one no
   *   image refers to is what a crash between an image's deletion and the removal of its
   *   snapshots left (or a layer unpacked for an image deleted meanwhile), and goes, top
   *   of the chain first;
   * - what the image store repaired when it opened (`ImageStore.recovery`) is logged.
   *
   * Container snapshots are `RootFilesystems.removeOrphans`' business, which runs before:
   * a layer snapshot still parenting one is kept (the driver refuses) and logged.
   */
  async removeInterrupted(): Promise<void> {
    this.logImageRecovery();
    for (const entry of await fs.readdir(this.tmp).catch(() => [] as string[])) {
      const target = path.join(this.tmp, entry);
      try {
        unmountAll(target); // never delete recursively through a mount: rm runs only once this succeeded
        await fs.rm(target, { recursive: true, force: true });
      } catch (err) {
        this.log.error('cannot clear an interrupted layer extraction', { target, error: String(err) });
      }
    }
    for (const snapshot of await this.storage.walk()) {
      const owner = snapshot.labels[SnapshotLabels.ownerKind];
      if (owner === 'differ' && snapshot.kind === 'view') {
        // A view of an image the differ (core's snapshotChanges) compared a container with,
        // its mount under tmp/ cleared above: it never outlives the diff that made it.
        this.log.warn('removing a view left by an interrupted diff', { key: snapshot.key });
        await this.storage
          .remove(snapshot.key)
          .catch((err) => this.log.error('cannot remove a view left by an interrupted diff', { key: snapshot.key, error: String(err) }));
        continue;
      }
      if (owner !== 'image-extract' || snapshot.kind !== 'active') continue;
      this.log.warn('removing an interrupted layer extraction', { key: snapshot.key });
      await this.storage
        .remove(snapshot.key)
        .catch((err) => this.log.error('cannot remove an interrupted layer extraction', { key: snapshot.key, error: String(err) }));
    }
    await this.removeUnusedLayers();
  }

  /** Remove the layer snapshots no image refers to, children before parents. */
  private async removeUnusedLayers(): Promise<void> {
    const used = new Set<string>((await this.images.list()).flatMap((image) => image.chainIds));
    let snapshots = await this.storage.walk();
    for (;;) {
      const parents = new Set(snapshots.map((s) => s.parent).filter((p) => p !== undefined));
      const unused = snapshots.filter(
        (s) => s.labels[SnapshotLabels.ownerKind] === 'image' && s.kind === 'committed' && !used.has(s.key) && !parents.has(s.key),
      );
      if (!unused.length) break;
      for (const snapshot of unused) {
        this.log.warn('removing a layer snapshot no image uses', { chainId: snapshot.key });
        await this.storage
          .remove(snapshot.key)
          .catch((err) => this.log.error('cannot remove a layer snapshot no image uses', { chainId: snapshot.key, error: String(err) }));
      }
      const left = await this.storage.walk();
      // A removal that failed leaves the snapshot: stop rather than try it forever.
      if (left.length >= snapshots.length) break;
      snapshots = left;
    }
  }

  private logImageRecovery(): void {
    const r = this.images.recovery;
    if (!r) return;
    for (const op of r.operations) {
      const what =
        op.outcome === 'undone' ? 'undid an operation cut short before its names' : 'finished an operation cut short after its names';
      this.log.warn(`image store: ${what}`, { op: op.op, images: op.images.join(','), kept: op.kept.join(',') });
    }
    for (const image of r.brokenImages) this.log.error('image store: forgot a broken image', { id: image.id, reason: image.reason });
    if (r.danglingReferences.length)
      this.log.warn('image store: dropped names of missing images', { names: r.danglingReferences.join(',') });
    if (r.temporaryFiles || r.unusedLayers.length || r.unusedBlobs.length) {
      this.log.warn('image store: removed what an interrupted operation left', {
        temporaryFiles: r.temporaryFiles,
        layers: r.unusedLayers.length,
        blobs: r.unusedBlobs.length,
      });
    }
  }

  private async unpackLayer(image: ImageRecord, index: number): Promise<void> {
    const chainId = image.chainIds[index];
    try {
      await this.storage.stat(chainId);
      return;
    } catch (err) {
      if (!isBerthError(err, 'NotFound')) throw err;
    }
    const key = `extract-${randomBytes(8).toString('hex')}`;
    const target = path.join(this.tmp, key);
    const layer = image.layers[index];
    await fs.mkdir(target, { recursive: true, mode: 0o700 });
    let prepared = false;
    try {
      // Labelled so that recovery knows an unfinished extraction for what it is, whatever its key.
      const mounts = await this.storage.prepare(key, index > 0 ? image.chainIds[index - 1] : undefined, {
        labels: ownerLabels('image-extract', chainId),
      });
      prepared = true;
      await this.mounts.mount(mounts, target, { kind: 'operation', purpose: `the extraction of layer ${chainId}` });
      try {
        await applyLayer(target, await this.images.content.get(layer.digest), { expectedDiffId: layer.diffId, setXattr: setLayerXattr });
      } finally {
        await this.mounts.unmount(target);
      }
      await this.storage.commit(chainId, key, { labels: ownerLabels('image', chainId) });
      prepared = false;
      this.log.debug('layer unpacked', { chainId, diffId: layer.diffId });
    } catch (err) {
      if (prepared) await this.storage.remove(key).catch(() => undefined);
      throw err;
    } finally {
      await fs.rm(target, { recursive: true, force: true });
    }
  }
}

export const LayerUnpackerToken = token<LayerUnpacker>('LayerUnpacker');

/** A layer's extended attributes go with its files (applyTarXattrs says which). */
async function setLayerXattr(file: string, name: string, value: Buffer): Promise<void> {
  applyTarXattrs(new Map([[name, value]]), (n, v) => setXattr(file, n, v));
}
