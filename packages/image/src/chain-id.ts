import { type Digest, sha256Digest } from './digest.js';

/**
 * The chain IDs of a layer stack (OCI image-spec, "ChainID"): the first is the first
 * diffID, each next one is `sha256(<previous chain id> + " " + <diffID>)`. A chain ID
 * names a layer *with everything under it*, which is what a storage driver's committed
 * snapshot holds; that is why snapshots are named by chain ID, not by diffID.
 */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const diffId of diffIds) {
    const previous = out[out.length - 1];
    out.push(previous === undefined ? diffId : sha256Digest(`${previous} ${diffId}`));
  }
  return out;
}
