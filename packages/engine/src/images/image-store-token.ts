import { token } from '@berth/core';
import type { ImageStore } from '@berth/image';

/**
 * The data root's image store (`@berth/image`): image records, names, the content store
 * and the layer store. Opened once by `createEngine` (opening is asynchronous) unless the
 * embedder registered one of its own.
 */
export const ImageStoreToken = token<ImageStore>('ImageStore');
