import { type BerthError, Conflict, type DriverVolume, InvalidArgument, isBerthError, NotFound, SystemError } from '@berth/core';

/**
 * Docker's volume plugin protocol, as far as `serve()` needs it: JSON over HTTP POSTs on
 * a UNIX socket (docs.docker.com/engine/extend/plugins_volume/), one endpoint per call:
 *
 * | endpoint | request | answer |
 * |---|---|---|
 * | `/Plugin.Activate` | (empty) | `{"Implements": ["VolumeDriver"]}` |
 * | `/VolumeDriver.Create` | `{"Name", "Opts"}` | `{"Err": ""}` |
 * | `/VolumeDriver.Remove` | `{"Name"}` | `{"Err": ""}` |
 * | `/VolumeDriver.Mount` | `{"Name", "ID"}` | `{"Mountpoint", "Err": ""}` |
 * | `/VolumeDriver.Unmount` | `{"Name", "ID"}` | `{"Err": ""}` |
 * | `/VolumeDriver.Path` | `{"Name"}` | `{"Mountpoint", "Err": ""}` |
 * | `/VolumeDriver.Get` | `{"Name"}` | `{"Volume": {"Name", "Mountpoint", "CreatedAt", "Status"}, "Err": ""}` |
 * | `/VolumeDriver.List` | (empty) | `{"Volumes": [{"Name", "Mountpoint", "CreatedAt"}], "Err": ""}` |
 * | `/VolumeDriver.Capabilities` | (empty) | `{"Capabilities": {"Scope": "local"\|"global"}}` |
 *
 * A failure is `{"Err": "<message>"}` with status 500, as Docker's Go plugin helpers send
 * it (Docker's client reads `Err` whatever the status).
 */
export const PLUGIN_CONTENT_TYPE = 'application/vnd.docker.plugins.v1.2+json';

/** `Name` of a request: a non-empty string, else an InvalidArgument naming the field. */
export function nameOf(body: Record<string, unknown>): string {
  const name = body.Name;
  if (typeof name !== 'string' || name === '') throw new InvalidArgument('invalid request: "Name" must be a non-empty string');
  return name;
}

/** `ID` of a Mount/Unmount request: the mount's identity Docker chose (one per container). */
export function mountIdOf(body: Record<string, unknown>): string {
  const id = body.ID;
  if (typeof id !== 'string' || id === '') throw new InvalidArgument('invalid request: "ID" must be a non-empty string');
  return id;
}

/** `Opts` of a Create request: absent or null is `{}`; every value must be a string. */
export function optsOf(body: Record<string, unknown>): Record<string, string> {
  const opts = body.Opts;
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object' || Array.isArray(opts)) throw new InvalidArgument('invalid request: "Opts" must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts)) {
    if (typeof v !== 'string') throw new InvalidArgument(`invalid option ${JSON.stringify(k)}: its value must be a string`);
    out[k] = v;
  }
  return out;
}

/** A volume as the protocol shows it; `mountpoint` overrides the driver's when the volume is mounted. */
export function wireVolume(v: DriverVolume, mountpoint?: string): Record<string, unknown> {
  const out: Record<string, unknown> = { Name: v.name, Mountpoint: mountpoint ?? v.mountpoint ?? '' };
  if (v.createdAt) out.CreatedAt = v.createdAt;
  if (v.status) out.Status = v.status;
  return out;
}

/** What marks each kind of error in an `Err` message, Docker's own wording first. */
const ERROR_MARKS = {
  NotFound: { test: /no such volume|not found|does not exist/i, prefix: 'no such volume' },
  Conflict: { test: /in use|conflict|busy/i, prefix: 'volume is in use' },
  InvalidArgument: { test: /invalid/i, prefix: 'invalid argument' },
} as const;

/**
 * The `Err` text of a failure. Docker's protocol has no error codes, only this message,
 * so a client (berth's `volume-remote`, Docker itself) can only read the kind of error
 * from the words: the kit keeps the driver's message, and when a NotFound, Conflict or
 * InvalidArgument does not already say so, prefixes the words that do (`no such
 * volume: …`, `volume is in use: …`, `invalid argument: …`). `errorFromWire` reads them back.
 */
export function wireMessage(err: unknown): string {
  const message = (err as Error | undefined)?.message || String(err);
  for (const [code, mark] of Object.entries(ERROR_MARKS)) {
    if (isBerthError(err, code as keyof typeof ERROR_MARKS)) return mark.test.test(message) ? message : `${mark.prefix}: ${message}`;
  }
  return message;
}

/**
 * A client's reading of an `Err` message (the inverse of `wireMessage`, and what most
 * Docker plugins write): NotFound, Conflict or InvalidArgument by their words, else a
 * SystemError; each carries the message as it came.
 */
export function errorFromWire(message: string): BerthError {
  if (ERROR_MARKS.NotFound.test.test(message)) return new NotFound(message);
  if (ERROR_MARKS.Conflict.test.test(message)) return new Conflict(message);
  if (ERROR_MARKS.InvalidArgument.test.test(message)) return new InvalidArgument(message);
  return new SystemError(message);
}
