import { InvalidArgument } from '@berth/core';

/**
 * `--security-opt` values (HostConfig.SecurityOpt), parsed. Docker's forms, with
 * `=` or the old `:` separator:
 *
 * - `no-new-privileges`, `no-new-privileges=true|false`;
 * - `seccomp=unconfined`, `seccomp=<profile JSON or path>`;
 * - `systempaths=unconfined` (no masked or read-only /proc and /sys paths);
 * - `apparmor=...`, `label=...`: berth has no LSM support yet; accepted and
 *   ignored, with a warning, so scripts written for Docker keep working.
 *
 * Anything else is refused: a security option silently ignored is worse than an error.
 */
export interface SecurityOptions {
  /** undefined: not given (berth's default applies). */
  noNewPrivileges?: boolean;
  /** undefined: the default profile; 'unconfined'; or the profile (JSON text or a path). */
  seccomp?: string;
  unconfinedSystemPaths: boolean;
  warnings: string[];
}

export function parseSecurityOptions(opts: readonly string[] | null | undefined): SecurityOptions {
  const out: SecurityOptions = { unconfinedSystemPaths: false, warnings: [] };
  for (const opt of opts ?? []) {
    const eq = opt.indexOf('=');
    const colon = opt.indexOf(':');
    const sep = eq >= 0 && (colon < 0 || eq < colon) ? eq : colon;
    const key = sep < 0 ? opt : opt.slice(0, sep);
    const value = sep < 0 ? undefined : opt.slice(sep + 1);
    const bad = (): never => {
      throw new InvalidArgument(`invalid --security-opt: ${JSON.stringify(opt)}`);
    };
    switch (key) {
      case 'no-new-privileges':
        if (value === undefined || value === 'true') out.noNewPrivileges = true;
        else if (value === 'false') out.noNewPrivileges = false;
        else bad();
        break;
      case 'seccomp':
        if (!value) bad();
        out.seccomp = value;
        break;
      case 'systempaths':
        if (value !== 'unconfined') bad();
        out.unconfinedSystemPaths = true;
        break;
      case 'apparmor':
      case 'label':
        if (value === undefined) bad();
        out.warnings.push(
          `berth does not support ${key === 'apparmor' ? 'AppArmor' : 'SELinux labels'} yet: --security-opt ${opt} ignored`,
        );
        break;
      default:
        bad();
    }
  }
  return out;
}
