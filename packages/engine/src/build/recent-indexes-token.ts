import type { RecentIndexes } from '@berth/builder';
import { token } from '@berth/core';

/**
 * The indexes of the last build contexts read (@berth/builder's `RecentIndexes`): one per
 * engine, so a rebuild's context (the same tar again) takes its index again, and two
 * engines in one process never share one.
 */
export const RecentIndexesToken = token<RecentIndexes>('RecentIndexes');
