import type { OciSeccomp, OciSeccompArg } from '../../src/oci/index.js';

/**
 * What a profile answers for one syscall, by the rules of the runtime spec
 * (libseccomp): the first rule naming the syscall whose every argument condition
 * holds decides; otherwise the default action. Test helper, not a kernel model.
 */
export interface Verdict {
  action: string;
  errno?: number;
}

export function verdict(profile: OciSeccomp, name: string, args: number[] = []): Verdict {
  for (const rule of profile.syscalls) {
    if (!rule.names.includes(name)) continue;
    if ((rule.args ?? []).every((a) => argHolds(a, args[a.index] ?? 0))) {
      return rule.errnoRet === undefined ? { action: rule.action } : { action: rule.action, errno: rule.errnoRet };
    }
  }
  return profile.defaultErrnoRet === undefined
    ? { action: profile.defaultAction }
    : { action: profile.defaultAction, errno: profile.defaultErrnoRet };
}

export function allowed(profile: OciSeccomp, name: string, args: number[] = []): boolean {
  return verdict(profile, name, args).action === 'SCMP_ACT_ALLOW';
}

function argHolds(a: OciSeccompArg, v: number): boolean {
  const big = BigInt(v);
  const value = BigInt(a.value);
  switch (a.op) {
    case 'SCMP_CMP_EQ':
      return big === value;
    case 'SCMP_CMP_NE':
      return big !== value;
    case 'SCMP_CMP_LT':
      return big < value;
    case 'SCMP_CMP_LE':
      return big <= value;
    case 'SCMP_CMP_GT':
      return big > value;
    case 'SCMP_CMP_GE':
      return big >= value;
    case 'SCMP_CMP_MASKED_EQ':
      return (big & value) === BigInt(a.valueTwo ?? 0);
  }
}
