import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type AnyPluginManifest, InvalidArgument } from '@berth/core';

/** How one attempt to initialise a candidate went, as the plugin host reports it. */
export type Attempt = { ok: true; driver: unknown } | { ok: false; reason: string };

/** What the choice needs from its caller. */
export interface DriverChoiceInput {
  /** The kind (`storage`), for messages and the data root's `<kind>/<name>` directories. */
  kind: string;
  /** The flag an operator chooses with, for messages (`--storage-driver`). */
  flag: string;
  /** Tried in this order, before any other candidate (in the order offered). */
  priority: readonly string[];
  /** The operator's choice, if any. */
  explicit: string | undefined;
  /**
   * Tried first when neither the operator nor the data root's state decides: what this
   * host suggests (`btrfs` where the data root is on btrfs), with the reason to report.
   */
  preferred?: { names: readonly string[]; why: string };
  dataRoot: string;
  candidates: readonly AnyPluginManifest[];
  /** Initialise one candidate (after its requirements); its status is the caller's to record. */
  attempt(manifest: AnyPluginManifest): Promise<Attempt>;
}

/**
 * Chooses the one driver of a kind the engine runs on, with Docker's rules for storage:
 * the operator's choice wins, unless the data root holds another driver's state (then it
 * is refused: a data root is opened by the driver whose state it holds, or moved with
 * `berth storage migrate`); otherwise the driver whose state the data root already
 * holds (two at once is an error the operator must settle); otherwise the first in
 * `priority`, then the rest in the order offered, that initialises. Only the drivers
 * tried are initialised, so trying does not leave a second driver's state behind.
 * Throws InvalidArgument when no candidate can serve. Returns the choice and the
 * candidates it never tried, which the caller reports as "not selected".
 */
export async function chooseDriver(
  input: DriverChoiceInput,
): Promise<{ name: string; driver: unknown; untried: AnyPluginManifest[]; why: string }> {
  const { kind, candidates } = input;
  const names = candidates.map((m) => m.name);
  const tried = new Set<string>();
  const refused: string[] = [];
  const done = (name: string, driver: unknown, why: string) => ({
    name,
    driver,
    why,
    untried: candidates.filter((m) => !tried.has(m.name)),
  });
  const pick = async (name: string, why: string) => {
    const manifest = candidates.find((m) => m.name === name);
    if (!manifest)
      throw new InvalidArgument(`${kind} driver ${name} ${why}, but no such plugin is loaded (loaded: ${names.join(', ') || 'none'})`);
    tried.add(name);
    const attempt = await input.attempt(manifest);
    if (!attempt.ok) throw new InvalidArgument(`${kind} driver ${name} ${why}, but it cannot be used here: ${attempt.reason}`);
    return done(name, attempt.driver, why);
  };

  const withState: string[] = [];
  for (const name of names) if (await hasState(path.join(input.dataRoot, kind, name))) withState.push(name);
  if (input.explicit) {
    // A data root holding one driver's state is never opened by another: its images and
    // containers would vanish from view, and the two would grow apart on one disk.
    const others = withState.filter((name) => name !== input.explicit);
    if (others.length) {
      throw new InvalidArgument(
        `${kind} driver ${input.explicit} was chosen with ${input.flag}, but ${input.dataRoot} holds the state of ${others.join(', ')}: start with ${input.flag} ${others[0]}, or move the data root to ${input.explicit} with berth storage migrate --to ${input.explicit}`,
      );
    }
    return pick(input.explicit, `was chosen with ${input.flag}`);
  }
  if (withState.length > 1) {
    throw new InvalidArgument(
      `${input.dataRoot} holds state of several ${kind} drivers (${withState.join(', ')}): choose one with ${input.flag}`,
    );
  }
  if (withState.length === 1) return pick(withState[0], `holds the state in ${input.dataRoot}`);

  const preferred = (input.preferred?.names ?? []).filter((n) => names.includes(n));
  const rest = [...input.priority.filter((n) => names.includes(n)), ...names.filter((n) => !input.priority.includes(n))];
  const order = [...preferred, ...rest.filter((n) => !preferred.includes(n))];
  for (const name of order) {
    tried.add(name);
    const attempt = await input.attempt(candidates.find((m) => m.name === name)!);
    if (attempt.ok) {
      const first = preferred.includes(name)
        ? input.preferred!.why
        : `the first of ${rest.join(', ')} that works here${refused.length ? ` (${refused.join('; ')})` : ''}`;
      return done(name, attempt.driver, first);
    }
    refused.push(`${name}: ${attempt.reason}`);
  }
  throw new InvalidArgument(`no ${kind} driver works on this host (tried ${order.join(', ') || 'none'})`);
}

async function hasState(dir: string): Promise<boolean> {
  try {
    return (await fs.readdir(dir)).length > 0;
  } catch {
    return false;
  }
}
