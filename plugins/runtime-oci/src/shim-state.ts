import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import * as path from 'node:path';
import type { ExitStatus } from '@berth/core';

/** The files berth-shim keeps in a state dir, a container's or an exec's (native/shim/README.md). */
export const stateFiles = {
  socket: 'shim.sock',
  exit: 'exit.json',
  pid: 'pid',
  shimPid: 'shim.pid',
  createLog: 'runtime-create.log',
} as const;

/** sun_path holds 108 bytes with the terminating NUL. */
export const maxSocketPath = 107;

export function connectSocket(file: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(file);
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** The shim's exit record, or null when it has written none (yet). */
export function readExitStatus(stateDir: string): ExitStatus | null {
  try {
    return parseExitStatus(readFileSync(path.join(stateDir, stateFiles.exit), 'utf8'));
  } catch {
    return null;
  }
}

/** An exit record (exit.json's text, or the shim's stream-4 frame), or null when it is not one. */
export function parseExitStatus(text: string): ExitStatus | null {
  try {
    const raw = JSON.parse(text) as Partial<ExitStatus>;
    return {
      exitCode: Number(raw.exitCode ?? 255),
      oomKilled: raw.oomKilled === true,
      finishedAt: String(raw.finishedAt ?? new Date().toISOString()),
    };
  } catch {
    return null;
  }
}

/** What a monitor that died without an exit record leaves the engine to report. */
export function lostExitStatus(): ExitStatus {
  return { exitCode: 255, oomKilled: false, finishedAt: new Date().toISOString() };
}
