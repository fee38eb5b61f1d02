import { createReadStream, mkdtempSync } from 'node:fs';
import { type ContainerStreams, definePlugin, type ExitStatus, type OutputChunk, type Runtime } from '@berth/core';
import none from '@berth/network-none';
import overlay from '@berth/storage-overlay';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { removeAndAssertNoMounts } from './support/cleanup.js';
import { busyboxTar, openTestEngine } from './support/test-engine.js';

// A runtime reports a container's exit on one connection and its output on another;
// the engine may see the exit first. Here a runtime does that on purpose: the exit is
// reported, and only then the last output arrives and its streams close.

/** Exits with 0 at start; 30 ms later delivers "late\n" on stdout and closes the streams. */
class ExitFirstRuntime implements Runtime {
  readonly name = 'exit-first';
  private readonly exits = new Map<string, { promise: Promise<ExitStatus>; resolve: (s: ExitStatus) => void }>();
  private readonly outputs = new Map<string, { out: Set<(c: OutputChunk) => void>; closed: Set<() => void> }>();

  async create(req: { id: string }): Promise<{ pid: number }> {
    let resolve!: (s: ExitStatus) => void;
    const promise = new Promise<ExitStatus>((r) => (resolve = r));
    this.exits.set(req.id, { promise, resolve });
    this.outputs.set(req.id, { out: new Set(), closed: new Set() });
    return { pid: process.pid };
  }

  async connect(id: string): Promise<ContainerStreams> {
    const o = this.outputs.get(id)!;
    return {
      onOutput: (l) => {
        o.out.add(l);
        return () => o.out.delete(l);
      },
      onClose: (l) => void o.closed.add(l),
      writeStdin() {},
      closeStdin() {},
      resize: () => Promise.reject(new Error('no terminal')),
      close() {},
    };
  }

  async start(id: string): Promise<void> {
    const o = this.outputs.get(id)!;
    this.exits.get(id)!.resolve({ exitCode: 0, oomKilled: false, finishedAt: new Date().toISOString() });
    setTimeout(() => {
      for (const l of o.out) l({ stream: 'stdout', data: Buffer.from('late\n') });
      for (const l of o.closed) l();
    }, 30);
  }

  async kill(): Promise<void> {}
  async pause(): Promise<never> {
    throw new Error('not used');
  }
  async resume(): Promise<never> {
    throw new Error('not used');
  }
  async update(): Promise<never> {
    throw new Error('not used');
  }
  exec(): Promise<never> {
    return Promise.reject(new Error('exit-first runs no execs'));
  }
  adoptExec(): Promise<never> {
    return Promise.reject(new Error('exit-first runs no execs'));
  }
  releaseExec(): Promise<never> {
    return Promise.reject(new Error('exit-first runs no execs'));
  }
  wait(id: string): Promise<ExitStatus> {
    return this.exits.get(id)!.promise;
  }
  async delete(id: string): Promise<void> {
    this.exits.delete(id);
    this.outputs.delete(id);
  }
  async adopt(): Promise<never> {
    throw new Error('not used');
  }
  async describe(): Promise<{ path: string; version: string }> {
    return { path: '/nonexistent', version: 'test' };
  }
}

test('output that arrives after the exit is reported still reaches the attached session', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-exitfirst-');
  const engine = await openTestEngine(dir, {
    defaultRuntime: 'exit-first',
    plugins: [
      overlay,
      none,
      definePlugin({ kind: 'runtime', name: 'exit-first', description: 'test', init: () => new ExitFirstRuntime() }),
    ],
  });
  try {
    await engine.images.load(createReadStream(busyboxTar));
    const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
    const session = await engine.containers.attach(Id, { stdout: true, stderr: true, stream: true });
    const out: string[] = [];
    session.onOutput((stream, data) => out.push(`${stream}:${data}`));
    const waited = engine.containers.wait(Id, 'next-exit');
    await engine.containers.start(Id);
    assert.is((await waited).StatusCode, 0);
    await session.ended;
    assert.equal(out, ['stdout:late\n']);
    await engine.containers.remove(Id);
  } finally {
    await engine.close();
    removeAndAssertNoMounts(dir);
  }
});

test.run();
