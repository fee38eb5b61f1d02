import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const BUSYBOX = path.join(ROOT, 'test/fixtures/.cache/busybox.tar');
const BERTH_REGISTRY = path.join(ROOT, 'bin/berth-registry');
export const BERTH_CLI = path.join(ROOT, 'bin/berth');
const REFERENCE_REGISTRY = '/usr/bin/docker-registry';

/** A temporary directory for one suite, `/tmp/berth-e2e-registry-*` (the machine leak check knows the prefix). */
export function suiteDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync('/tmp/berth-e2e-registry-');
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A process this suite started, stopped by its pid. */
export interface Started {
  url: string;
  host: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

function stopper(proc: ChildProcess): () => Promise<void> {
  return async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
}

/** The environment of a built bin, as users run it: without the test runner's @berth/source condition. */
export function binEnv(): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _, ...env } = process.env;
  return env;
}

/**
 * berth's registry on an ephemeral loopback port: bin/berth-registry (the built package),
 * or with `via: 'cli'` `bin/berth registry serve` (the CLI bundle, which requires the package).
 */
export async function startBerthRegistry(root: string, args: string[] = [], via: 'bin' | 'cli' = 'bin'): Promise<Started> {
  const [cmd, prefix] = via === 'bin' ? [BERTH_REGISTRY, ['serve']] : [BERTH_CLI, ['registry', 'serve']];
  const proc = spawn(cmd, [...prefix, '--addr', '127.0.0.1:0', '--root', root, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: binEnv(),
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`berth-registry did not start: ${out}`)), 10_000);
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /serving (https?:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.stderr!.on('data', (d) => (out += d));
    proc.once('exit', (code) => reject(new Error(`berth-registry exited (${code}): ${out}`)));
  });
  return { url, host: new URL(url).host, proc, stop: stopper(proc) };
}

/** A loopback port nobody listens on now (for the reference registry, which takes its address from a config file). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Debian's reference registry (docker/distribution) with a config of our own: its storage in `dir`, loopback only. */
export async function startReferenceRegistry(dir: string): Promise<Started> {
  const port = await freePort();
  const config = path.join(dir, 'reference.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'reference-root')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const proc = spawn(REFERENCE_REGISTRY, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited (${proc.exitCode}): ${err}`);
    const ok = await fetch(`${url}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return { url, host: `127.0.0.1:${port}`, proc, stop: stopper(proc) };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopper(proc)();
  throw new Error(`docker-registry did not answer on ${url}: ${err}`);
}

/** Runs skopeo; resolves with its output, rejects with its stderr on failure. No policy file is needed: the test's own. */
export function skopeo(dir: string, args: string[]): Promise<string> {
  const policy = path.join(dir, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  return new Promise((resolve, reject) => {
    execFile(
      'skopeo',
      ['--policy', policy, ...args],
      {
        timeout: 60_000,
        maxBuffer: 16 << 20,
        env: { ...process.env, HOME: dir, XDG_RUNTIME_DIR: dir, REGISTRY_AUTH_FILE: path.join(dir, 'auth.json') },
      },
      (error, stdout, stderr) => (error ? reject(new Error(`skopeo ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout)),
    );
  });
}
