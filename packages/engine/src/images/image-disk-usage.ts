import type { ImageSummary, ImagesDiskUsage } from '@berth/core';
import type { ImageRecord } from '@berth/image';

/**
 * The images part of `docker system df`, computed from the store's records as dockerd
 * does: a layer is known by its chain ID (the same content at another position in
 * another stack is another snapshot); `LayersSize` counts each layer once; an image's
 * `SharedSize` is the part of its `Size` in layers another image also has, so its
 * unique size (`Size - SharedSize`) summed over the images, plus each shared layer
 * once, gives `LayersSize`. `Containers` is how many containers (any state) use it.
 */
export function imagesDiskUsage(
  records: readonly ImageRecord[],
  summaries: readonly ImageSummary[],
  containersOf: (imageId: string) => number,
): ImagesDiskUsage {
  const imagesOfLayer = new Map<string, number>();
  const sizeOfLayer = new Map<string, number>();
  for (const image of records) {
    const seen = new Set<string>();
    image.chainIds.forEach((chainId, i) => {
      if (seen.has(chainId)) return;
      seen.add(chainId);
      imagesOfLayer.set(chainId, (imagesOfLayer.get(chainId) ?? 0) + 1);
      sizeOfLayer.set(chainId, image.layers[i]?.size ?? 0);
    });
  }
  const byId = new Map(records.map((r) => [r.id, r]));
  let layersSize = 0;
  for (const size of sizeOfLayer.values()) layersSize += size;
  const images = summaries.map((summary) => {
    const record = byId.get(summary.Id as ImageRecord['id']);
    let shared = 0;
    for (const chainId of new Set(record?.chainIds ?? [])) {
      if ((imagesOfLayer.get(chainId) ?? 0) > 1) shared += sizeOfLayer.get(chainId) ?? 0;
    }
    return { ...summary, SharedSize: shared, Containers: containersOf(summary.Id) };
  });
  return { LayersSize: layersSize, Images: images };
}
