import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * The bytes a directory tree holds (allocated blocks, as `du` counts them; a hard-linked
 * file once), walked with lstat so a symlink is never followed out of it. What vanishes
 * meanwhile counts nothing.
 */
export async function directorySize(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = path.join(d, e.name);
      const st = await fs.lstat(p, { bigint: true }).catch(() => undefined);
      if (!st) continue;
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      total += Number(st.blocks) * 512;
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return total;
}
