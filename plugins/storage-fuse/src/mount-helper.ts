import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { type FuseModule, loadFuse } from './fuse-binding.js';
import { type HelperArguments, parseHelperArguments } from './helper-arguments.js';
import { UnionFilesystem } from './union-filesystem.js';

/** The mount options every union mount gets (README.md, "Mount options"). */
export const FUSE_MOUNT_OPTIONS = {
  allowOther: true,
  defaultPermissions: true,
  autoUnmount: true,
  kernelCache: true,
  entryTimeout: 10,
  attrTimeout: 10,
  timeout: false as const,
  // use_ino: every layer is on one filesystem, so its inode numbers are unique. The
  // attributes of a hard-linked file are still never cached by the kernel: the patched
  // binding makes them valid for no time (libfuse 2 gives each of its names a kernel
  // inode of its own, which would go stale when another name is written).
  extraOptions: ['use_ino', 'big_writes', 'max_write=131072', 'max_read=131072'],
};

/**
 * The mount helper's life (the mount-helper interface): mount the union on the target,
 * write `ready\n` to fd 3, serve until SIGTERM (unmount, exit 0) or until the session
 * ends because someone else unmounted it (exit 0). `auto_unmount` has fusermount
 * unmount the target if this process dies any other way (SIGKILL), so no
 * "Transport endpoint is not connected" is left behind. This process never touches its
 * own mount: a request it made to itself could never be answered.
 */
export function runMountHelper(argv: readonly string[]): void {
  let args: HelperArguments;
  try {
    args = parseHelperArguments(argv);
  } catch (err) {
    process.stderr.write(`berth-fuse: ${(err as Error).message}\n`);
    process.exit(2);
  }
  let Fuse: FuseModule;
  try {
    Fuse = loadFuse();
  } catch (err) {
    process.stderr.write(`berth-fuse: ${(err as Error).message}\n`);
    process.exit(1);
  }
  // Modes are the callers' (the kernel applied their umask), never this process's.
  process.umask(0);
  const work = prepareWorkDir(args);
  const log = (message: string) => process.stderr.write(`berth-fuse ${args.target}: ${message}\n`);
  const filesystem = new UnionFilesystem(
    args.upper ?? args.lowers[0]!,
    args.upper === undefined ? args.lowers.slice(1) : args.lowers,
    work,
    () => {
      const [uid, gid] = Fuse.callerIdentity();
      return { uid, gid };
    },
    args.readOnly,
    args.volatile,
    (op, p, err) => log(`${op} ${p}: ${(err as Error).stack ?? String(err)}`),
    (p) => Fuse.forgetAttr(p),
  );
  let exiting = false;
  let sentinel: ChildProcess | undefined;
  const exit = (code: number) => {
    if (exiting) return;
    exiting = true;
    // Leaving on purpose, with the mount gone or going: nothing for the sentinel to do.
    sentinel?.kill('SIGKILL');
    process.exit(code);
  };
  const fuse = new Fuse(args.target, filesystem.operations(), {
    ...FUSE_MOUNT_OPTIONS,
    fsname: args.source,
    subtype: 'berth',
    extraOptions: [...FUSE_MOUNT_OPTIONS.extraOptions, ...(args.readOnly ? ['ro'] : [])],
    onSessionEnded: () => exit(0),
  });
  // Never umount2 from this thread: the path walk to the target may ask this very
  // process for the root's attributes, which it could not answer while blocked in the
  // call. fusermount does it from a process of its own; the session's end exits.
  const unmountAndExit = () => {
    const unmounter = spawn('fusermount', ['-uz', args.target], { stdio: 'ignore' });
    unmounter.once('error', () => exit(0));
    unmounter.once('exit', () => exit(0));
  };
  process.on('SIGTERM', unmountAndExit);
  process.on('SIGINT', unmountAndExit);
  // Answer errno for anything a handler let through; never die with the mount up.
  process.on('uncaughtException', (err) => log(`uncaught: ${err.stack ?? String(err)}`));
  fuse.mount((err) => {
    if (err) {
      log(`mount failed: ${err.message}`);
      exit(1);
      return;
    }
    // libfuse 2 mounts through fusermount (auto_unmount needs it), which adds nosuid and
    // nodev even for root; a container's set-uid programs and device nodes need them
    // off, as on overlay. A process of its own does it: its path walk reaches this one.
    const options = `remount,suid,dev${args.readOnly ? ',ro' : ''}`;
    const remount = spawn('mount', ['--internal-only', '-o', options, args.target], { stdio: ['ignore', 'ignore', 'pipe'] });
    let remountErr = '';
    remount.stderr!.on('data', (d: Buffer) => {
      remountErr += d.toString();
    });
    const ready = (code: number | null) => {
      if (code !== 0) log(`mount -o ${options} failed (${code}): ${remountErr.trim()}; set-uid bits and devices stay off`);
      try {
        writeSync(3, 'ready\n');
      } catch {
        // Run by hand without fd 3: nobody waits for the line.
      }
    };
    remount.once('error', () => ready(null));
    remount.once('exit', ready);
    sentinel = startSentinel(args.target);
  });
}

/**
 * The directory copy-ups are made in, emptied now (what a crash left there is half a
 * copy): `<workdir>/fuse`, beside what kernel overlay keeps in its workdir. A read-only
 * view has none and never copies up (every write answers EROFS first).
 */
function prepareWorkDir(args: HelperArguments): string {
  if (args.work === undefined) return '';
  const dir = path.join(args.work, 'fuse');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * A process of its own (own session: a signal to the helper's group spares it) that
 * waits for this one's death (end of file on its stdin, whose other end only this
 * process holds) and then detaches the mount if it is left dead ("Transport endpoint is
 * not connected"). auto_unmount's fusermount does the same, but here 1 SIGKILL in about
 * 15 left the mount behind anyway (fusermount exited without unmounting). A live mount
 * on the target (someone mounted again) is left alone; a helper that exits on purpose
 * kills its sentinel first.
 */
function startSentinel(target: string): ChildProcess {
  const script =
    // fd 3 (ready) and 4 (the engine's lifeline) are the helper's, not the sentinel's:
    // holding the lifeline would hide the helper's death from the engine.
    'exec 3>&- 4>&-; read _; sleep 0.2; ' +
    'if ls -- "$1" 2>&1 >/dev/null | grep -q "not connected"; then fusermount -uz -- "$1" 2>/dev/null || umount -l -- "$1"; fi';
  const child = spawn('/bin/sh', ['-c', script, 'berth-fuse-sentinel', target], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  child.unref();
  child.on('error', () => {});
  return child;
}
