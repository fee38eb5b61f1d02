import type { Stats } from 'node:fs';
import type { TarWriteEntry } from '@berth/image';
import { deviceNumbers } from './device-numbers.js';

/** What every tar entry of a walked tree carries: the writer's TarWriteEntry fields a tree decides. */
type CommonFields = Pick<TarWriteEntry, 'mode' | 'uid' | 'gid' | 'mtime'>;

/**
 * The tar entry of the device or FIFO `st` at `entryPath` (`common`: its mode, owner and
 * mtime as the tree writes them), or undefined when `st` is neither: a layer tar and a
 * packed context write them alike.
 */
export function specialFileEntry(st: Stats, entryPath: string, common: CommonFields): TarWriteEntry | undefined {
  if (st.isFIFO()) return { ...common, path: entryPath, type: 'fifo' };
  if (!st.isCharacterDevice() && !st.isBlockDevice()) return undefined;
  const { major, minor } = deviceNumbers(st.rdev);
  return { ...common, path: entryPath, type: st.isCharacterDevice() ? 'char-device' : 'block-device', devmajor: major, devminor: minor };
}
