import { type ContainerTop, SystemError } from '@berth/core';

/**
 * `ps` output narrowed to a container's processes, as dockerd answers `top`: the header's
 * words are the titles; the PID column (found by name) picks the rows whose pid is one of
 * `pids`; the last column takes the rest of the line (a command with spaces).
 */
export function filterPsOutput(output: string, pids: ReadonlySet<number>): ContainerTop {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new SystemError("Couldn't find PID field in ps output");
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (!pids.has(Number(fields[pidIndex]))) continue;
    const row = fields.slice(0, titles.length - 1);
    row.push(fields.slice(titles.length - 1).join(' '));
    processes.push(row);
  }
  return { Titles: titles, Processes: processes };
}

/** `ps`'s arguments from `ps_args` (Docker's default `-ef`); split on spaces, as dockerd does. */
export function psArguments(psArgs: string | undefined): string[] {
  const text = psArgs?.trim() || '-ef';
  return text.split(/\s+/);
}
