import type { ExecCreateBody, ExecInspect } from '@berth/core';

/**
 * What the engine keeps of one exec: what to run, and how its run went. Written to
 * `<exec-root>/execs/<id>.json` while it runs (from just before the runtime's exec until
 * its exit is known), so an engine started after a crash finds the execs still running
 * and their exits; forgotten with its container.
 */
export interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecCreateBody;
  /** Detach keys for its attached stream (`ctrl-p,ctrl-q` unless given). */
  detachKeys: string;
  started: boolean;
  running: boolean;
  /** Null until it ended. */
  exitCode: number | null;
  pid: number;
  /** The runtime's state dir of the exec, once started. */
  stateDir?: string;
}

/** `GET /exec/{id}/json` of a record. */
export function execInspect(record: ExecRecord): ExecInspect {
  const cmd = record.config.Cmd ?? [];
  return {
    ID: record.id,
    Running: record.running,
    ExitCode: record.exitCode,
    ProcessConfig: {
      tty: record.config.Tty === true,
      entrypoint: cmd[0] ?? '',
      arguments: cmd.slice(1),
      privileged: record.config.Privileged === true,
      ...(record.config.User ? { user: record.config.User } : {}),
    },
    OpenStdin: record.config.AttachStdin === true,
    OpenStderr: record.config.AttachStderr === true,
    OpenStdout: record.config.AttachStdout === true,
    CanRemove: false,
    ContainerID: record.containerId,
    DetachKeys: record.config.DetachKeys ?? '',
    Pid: record.pid,
  };
}
