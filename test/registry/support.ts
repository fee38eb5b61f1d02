import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { LocalRegistry } from '@berth/testkit/registry';

export const ROOT = path.resolve(__dirname, '../..');
export const BUSYBOX = path.join(ROOT, 'test/fixtures/.cache/busybox.tar');
const BERTH_REGISTRY = path.join(ROOT, 'bin/berth-registry');
export const BERTH_CLI = path.join(ROOT, 'bin/berth');

/** A temporary directory for one suite, `/tmp/berth-e2e-registry-*` (the machine leak check knows the prefix). */
export function suiteDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync('/tmp/berth-e2e-registry-');
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A process this suite started, stopped by its pid. */
export interface Started {
  url: string;
  host: string;
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
  return { url, host: new URL(url).host, stop: stopper(proc) };
}

/** Debian's reference registry (testkit's LocalRegistry), plain HTTP on loopback. */
export async function startReferenceRegistry(): Promise<Started> {
  const registry = new LocalRegistry('/tmp/berth-e2e-registry-ref-');
  try {
    await registry.start();
  } catch (err) {
    await registry.stop();
    throw err;
  }
  return { url: `http://${registry.address}`, host: registry.address, stop: () => registry.stop() };
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
