import { spawn } from 'node:child_process';
import { SystemError } from '../errors.js';

/**
 * Run a host program (`ip`, `nft`, …) with `input` on its stdin; resolves with its stdout,
 * rejects with a SystemError carrying the command and its stderr (or its exit status).
 * No shell: every argument is passed as is. For plugins that drive a host tool whose
 * work has no syscall interface worth binding (nftables' ruleset language, `ip`'s
 * one-off queries).
 */
export function runProgram(program: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new SystemError(`${program}: ${e.message}`, { cause: e })));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
      const stderr = Buffer.concat(err).toString('utf8').trim();
      reject(new SystemError(`${program} ${args.join(' ')}: ${stderr || `exit ${code ?? signal}`}`));
    });
    child.stdin.on('error', () => {}); // a program that exits before reading its input reports through its exit status
    child.stdin.end(input ?? '');
  });
}
