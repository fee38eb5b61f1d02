/** What the mount helper is asked to mount (its argv, as mount(8) passes it to `mount.<type>`). */
export interface HelperArguments {
  source: string;
  target: string;
  /** Upper directory: absent for a read-only view. */
  upper?: string;
  /** Lower directories, nearest first. */
  lowers: string[];
  work?: string;
  readOnly: boolean;
  /** fsync and fdatasync answer at once (PrepareOptions.volatile: the writes may be lost in a crash). */
  volatile: boolean;
}

/**
 * Parse `<source> <target> -o lowerdir=a:b,upperdir=u,workdir=w[,ro]` (the mount-helper
 * interface). Throws an Error naming what is wrong: the helper prints it and exits 2.
 */
export function parseHelperArguments(argv: readonly string[]): HelperArguments {
  const usage = 'usage: <source> <target> -o lowerdir=<dir>[:<dir>…][,upperdir=<dir>,workdir=<dir>][,ro][,volatile]';
  const [source, target, flag, options, ...rest] = argv;
  if (!source || !target || flag !== '-o' || options === undefined || rest.length > 0) throw new Error(usage);
  const parsed: HelperArguments = { source, target, lowers: [], readOnly: false, volatile: false };
  for (const option of options.split(',')) {
    const eq = option.indexOf('=');
    const key = eq === -1 ? option : option.slice(0, eq);
    const value = eq === -1 ? '' : option.slice(eq + 1);
    if (key === 'lowerdir') parsed.lowers = value.split(':').filter((d) => d !== '');
    else if (key === 'upperdir') parsed.upper = value;
    else if (key === 'workdir') parsed.work = value;
    else if (key === 'ro') parsed.readOnly = true;
    else if (key === 'volatile') parsed.volatile = true;
    else if (key === 'rw' || key === '') continue;
    else throw new Error(`unknown option ${JSON.stringify(option)}; ${usage}`);
  }
  if (parsed.lowers.length === 0) throw new Error(`lowerdir is required; ${usage}`);
  if ((parsed.upper === undefined) !== (parsed.work === undefined)) throw new Error(`upperdir and workdir go together; ${usage}`);
  if (parsed.upper === undefined) parsed.readOnly = true;
  for (const dir of [target, parsed.upper, parsed.work, ...parsed.lowers]) {
    if (dir !== undefined && !dir.startsWith('/')) throw new Error(`${JSON.stringify(dir)} is not an absolute path`);
  }
  return parsed;
}
