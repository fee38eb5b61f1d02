import { InvalidArgument } from '@berth/core';

/** What `--chmod` does to one file: its new permission bits from its old ones. */
export type ModeChange = (mode: number, isDirectory: boolean) => number;

const who = { u: 0o4700, g: 0o2070, o: 0o1007 } as const;

/**
 * Parse `--chmod`: octal (`755`, `0644`, `4755`), as Docker's classic builder takes, or
 * symbolic as chmod(1) and BuildKit take (`u+x`, `go-w`, `a=rX,u+w`: who `ugoa`, op
 * `+-=`, perms `rwxXst`, `X` execute only for directories and files already executable
 * by someone). Applies to files and directories alike. Anything else is an InvalidArgument.
 */
export function parseChmod(spec: string): ModeChange {
  if (/^[0-7]{1,4}$/.test(spec)) {
    const mode = Number.parseInt(spec, 8);
    return () => mode;
  }
  const clauses = spec.split(',').map((clause) => {
    const m = /^([ugoa]*)([-+=])([rwxXst]*)$/.exec(clause);
    if (!m) throw new InvalidArgument(`invalid --chmod: ${JSON.stringify(spec)} (octal like 755, or symbolic like u+x,go-w)`);
    return { who: m[1]!, op: m[2]!, perms: m[3]! };
  });
  return (mode, isDirectory) => {
    let result = mode & 0o7777;
    for (const clause of clauses) {
      const whoChars = clause.who === '' || clause.who.includes('a') ? 'ugo' : clause.who;
      let mask = 0;
      for (const w of whoChars) mask |= who[w as keyof typeof who];
      let bits = 0;
      for (const p of clause.perms) {
        if (p === 'r') bits |= 0o444;
        else if (p === 'w') bits |= 0o222;
        else if (p === 'x') bits |= 0o111;
        else if (p === 'X') bits |= isDirectory || (mode & 0o111) !== 0 ? 0o111 : 0;
        else if (p === 's') bits |= 0o6000;
        else if (p === 't') bits |= 0o1000;
      }
      bits &= mask;
      if (clause.op === '+') result |= bits;
      else if (clause.op === '-') result &= ~bits;
      else result = (result & ~(mask & 0o7777)) | bits;
    }
    return result & 0o7777;
  };
}
