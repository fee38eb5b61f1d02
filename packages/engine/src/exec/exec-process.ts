import { type ExecCreateBody, InvalidArgument } from '@berth/core';
import { consoleSizeOf, type OciProcess, resolveUser } from '../oci/index.js';

/**
 * The OCI `process` of an exec, made from the container's own (its bundle's config.json):
 * everything that confines the container — capabilities, no_new_privs, rlimits, AppArmor
 * and SELinux labels — is the container's, so an exec never has more than the container
 * has; the runtime applies the container's seccomp profile, namespaces and cgroups.
 * Changed as Docker's exec changes them: the command, the environment (the container's,
 * TERM=xterm with a terminal, then the exec's Env), the working directory, the user
 * (resolved inside the container's root filesystem), the terminal and, for
 * `--privileged`, every capability the host has (`hostCapabilities`, its bounding set:
 * the kernel refuses one it does not know).
 */
export async function buildExecProcess(
  container: OciProcess,
  body: ExecCreateBody,
  rootfs: string,
  hostCapabilities: readonly string[] = [],
): Promise<OciProcess> {
  const args = body.Cmd ?? [];
  if (args.length === 0) throw new InvalidArgument('No exec command specified');
  const terminal = body.Tty === true;
  const env = overlay(container.env, terminal && !container.env.some((e) => e.startsWith('TERM=')) ? ['TERM=xterm'] : []);
  const cwd = body.WorkingDir || container.cwd;
  if (!cwd.startsWith('/')) throw new InvalidArgument(`the working directory '${cwd}' is invalid, it needs to be an absolute path`);
  const process: OciProcess = {
    ...container,
    args: [...args],
    env: overlay(
      env,
      (body.Env ?? []).filter((e) => e.includes('=')),
    ),
    cwd,
    terminal,
  };
  delete process.consoleSize;
  const size = terminal ? consoleSizeOf(body.ConsoleSize) : undefined;
  if (size) process.consoleSize = size;
  if (body.User) {
    const user = await resolveUser(rootfs, body.User);
    process.user = { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids };
  }
  if (body.Privileged) {
    const all = [...hostCapabilities];
    process.capabilities = { ...container.capabilities, bounding: all, effective: all, permitted: all };
  }
  return process;
}

/** `KEY=value` entries of `over` replace those of `base` with the same key, in place; new keys are appended. */
function overlay(base: readonly string[], over: readonly string[]): string[] {
  const out = [...base];
  for (const entry of over) {
    const key = entry.slice(0, entry.indexOf('=') + 1);
    const at = out.findIndex((e) => e.startsWith(key));
    if (at >= 0) out[at] = entry;
    else out.push(entry);
  }
  return out;
}
