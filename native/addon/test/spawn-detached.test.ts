import { closeSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnDetached, spawnDetachedAsync } from '../src/index.js';

/** This process's children as [pid, state] (from /proc/self/task/<tid>/children). */
function children(): Array<[number, string]> {
  const pids = readdirSync('/proc/self/task').flatMap((tid) =>
    readFileSync(`/proc/self/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
  );
  return pids.map((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return [pid, stat[stat.lastIndexOf(')') + 2]!];
    } catch {
      return [pid, 'gone'];
    }
  });
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Everything the program writes to its ready fd, until every copy of it is closed. */
function readAll(fd: number): string {
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

test('the ready fd is fd 3 in the child (a socket), 0-2 are /dev/null, nothing else is open', () => {
  // The glob and `[` run in the shell itself, before any redirection, so they see the
  // spawned process's own descriptors: 0-3 and, while the glob reads it, the directory.
  const script =
    'set -- /proc/$$/fd/*; count=$#; [ -e /proc/$$/fd/4 ] && count=leak; ' +
    'links=$(readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2 /proc/$$/fd/3); echo $count $links >&3';
  const { readyFd, status } = spawnDetached('/bin/sh', ['-c', script], { readyFd: true });
  assert.is(status, 0);
  assert.type(readyFd, 'number');
  assert.match(readAll(readyFd!), /^5 \/dev\/null \/dev\/null \/dev\/null socket:\[\d+\]\n$/);
});

test('default signal dispositions and an empty mask in the child (Node ignores SIGPIPE)', () => {
  const ignored = /SigIgn:\s+([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
  assert.ok((BigInt(`0x${ignored}`) & (1n << 12n)) !== 0n, 'this process ignores SIGPIPE, so the test means something');
  const { readyFd } = spawnDetached('/bin/sh', ['-c', 'exec grep -E "^Sig(Blk|Ign):" /proc/self/status >&3'], { readyFd: true });
  const out = readAll(readyFd!);
  assert.match(out, /SigBlk:\s+0{16}\n/);
  assert.match(out, /SigIgn:\s+0{16}\n/);
});

test('arguments reach the program verbatim; argv[0] is the file', () => {
  const { readyFd } = spawnDetached('/bin/sh', ['-c', 'printf "[%s]\\n" "$0" "$@" >&3', 'zero', 'a b', '', 'é"\'$x'], { readyFd: true });
  assert.is(readAll(readyFd!), '[zero]\n[a b]\n[]\n[é"\'$x]\n');
});

test('the first process is reaped at once; its detached child is re-parented, not ours', async () => {
  const script = 'sleep 30 3>&- & echo "$!" >&3';
  const spawned = spawnDetached('/bin/sh', ['-c', script], { readyFd: true });
  const socket = new Socket({ fd: spawned.readyFd!, readable: true, writable: false });
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    socket.on('end', () => resolve(text.trim()));
    socket.on('error', reject);
  });
  socket.destroy();
  const sleeper = Number(line);
  try {
    assert.ok(sleeper > 0, `sleeper pid: ${line}`);
    assert.is(spawned.status, 0);
    assert.throws(() => readFileSync(`/proc/${spawned.pid}/stat`), /ENOENT/, 'the first process is gone, not a zombie');
    // Of this spawn: the test's process has other children (tsx's esbuild service, which
    // can be a zombie for a moment), which are not the spawn's to reap.
    assert.equal(
      children().filter(([pid, state]) => state === 'Z' && (pid === spawned.pid || pid === sleeper)),
      [],
      'no zombie child of this spawn',
    );
    assert.not.equal(parentOf(sleeper), process.pid);
    assert.not.ok(children().some(([pid]) => pid === sleeper || pid === spawned.pid));
  } finally {
    if (sleeper > 0) process.kill(sleeper, 'SIGKILL');
  }
});

test('without readyFd: no pipe, and the first process exit status is returned', () => {
  const out = spawnDetached('/bin/sh', ['-c', 'exit 7']);
  assert.is(out.status, 7);
  assert.is(out.readyFd, undefined);
  assert.ok(out.pid > 0);
  assert.is(spawnDetached('/bin/sh', ['-c', 'kill -TERM $$']).status, 128 + 15);
});

test('async: spawned off the event loop, the first process reaped when it exits (its exit status told, no zombie); a missing program rejects', async () => {
  // The first process outlives the spawn (it sleeps before it exits): nothing waited for it.
  const spawned = await spawnDetachedAsync('/bin/sh', ['-c', 'echo up >&3; sleep 0.2; exit 5'], { readyFd: true });
  assert.ok(spawned.pid > 0);
  assert.ok(existsSync(`/proc/${spawned.pid}`), 'the first process still runs when the spawn is done');
  const socket = new Socket({ fd: spawned.readyFd!, readable: true, writable: false });
  const line = await new Promise<string>((resolve) => socket.once('data', (c: Buffer) => resolve(c.toString().trim())));
  socket.destroy();
  assert.is(line, 'up');
  assert.is(await spawned.exited, 5);
  assert.throws(() => readFileSync(`/proc/${spawned.pid}/stat`), /ENOENT/, 'reaped, not a zombie');
  assert.equal(
    children().filter(([pid, state]) => state === 'Z' && pid === spawned.pid),
    [],
    'no zombie child of this spawn',
  );
  assert.is(await (await spawnDetachedAsync('/bin/sh', ['-c', 'kill -TERM $$'])).exited, 128 + 15);
  const missing = await spawnDetachedAsync('/tmp/bperf-no-such-program', [], { readyFd: true }).catch((e: NodeJS.ErrnoException) => e);
  assert.instance(missing, Error);
  assert.is((missing as NodeJS.ErrnoException).code, 'ENOENT');
  assert.is((missing as NodeJS.ErrnoException).syscall, 'posix_spawn');
});

test('a missing program is an fs-style ENOENT error and leaves no descriptor behind', () => {
  const before = readdirSync('/proc/self/fd').length;
  const err = (() => {
    try {
      spawnDetached('/tmp/bperf-no-such-program', [], { readyFd: true });
    } catch (e) {
      return e as NodeJS.ErrnoException;
    }
    return undefined;
  })();
  assert.ok(err, 'spawnDetached threw');
  assert.is(err!.code, 'ENOENT');
  assert.is(err!.syscall, 'posix_spawn');
  assert.is(err!.path, '/tmp/bperf-no-such-program');
  assert.is(err!.message, "ENOENT: no such file or directory, posix_spawn '/tmp/bperf-no-such-program'");
  assert.is(readdirSync('/proc/self/fd').length, before);
});

test('bad arguments are TypeErrors', () => {
  assert.throws(() => spawnDetached('/bin/sh', 'x' as unknown as string[]), /args must be an array/);
  assert.throws(() => spawnDetached('/bin/sh', ['-c', 1 as unknown as string]), /args must be an array of strings/);
  assert.throws(() => spawnDetached(undefined as unknown as string, []), /file must be a string/);
  assert.throws(() => spawnDetached('/bin/sh', ['a\0b']), TypeError);
});

test.run();
