import { containerConfigShape, hostConfigShape, type Shape, shapes } from '@berth/core';

/**
 * The types a loaded container record must have for `GET /containers/json` and
 * `GET /containers/{id}/json` to be what the API promises: Config and HostConfig as Docker
 * types them (the shapes the API checks create bodies with, from @berth/core), and the
 * record's own fields that listings and inspect serialise. A record written by an older
 * berth that stored a create body unchecked (`Labels: {"0":1}` from `Labels: [1]`) would
 * otherwise break `docker ps -a` and `docker inspect` for every client, whose decoders are
 * strict; this check makes the store report and skip it instead.
 */

const { string, integer, boolean, stringArray, object, arrayOf } = shapes;

/** The fields of the record itself, as list and inspect read them. */
const recordFields: Array<[string, Shape]> = [
  ['name', string],
  ['created', string],
  ['imageRef', string],
  ['imageId', string],
  ['path', string],
  ['args', stringArray],
  ['storageDriver', string],
  ['runtime', string],
  ['networkMode', string],
  ['restartCount', integer],
  [
    'networks',
    arrayOf(
      object<Record<string, unknown>>({
        network: string,
        aliases: stringArray,
        ipv4Address: string,
        macAddress: string,
        gwPriority: integer,
      }),
    ),
  ],
];

const stateShape = object<Record<string, unknown>>({
  Status: string,
  Running: boolean,
  Paused: boolean,
  Restarting: boolean,
  OOMKilled: boolean,
  Dead: boolean,
  Pid: integer,
  ExitCode: integer,
  Error: string,
  StartedAt: string,
  FinishedAt: string,
  // Written by the HealthMonitor after every probe, served as inspect's State.Health.
  Health: object<Record<string, unknown>>({
    Status: string,
    FailingStreak: integer,
    Log: arrayOf(object<Record<string, unknown>>({ Start: string, End: string, ExitCode: integer, Output: string })),
  }),
});

const statuses = new Set(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead']);

/**
 * Throws an Error saying which field has the wrong type (`invalid Config.Labels: expected
 * a map of strings, got {"0":1}`); returns nothing for a record fit to serve.
 */
export function validateRecordTypes(record: Record<string, unknown>): void {
  for (const [field, shape] of recordFields) {
    if (record[field] === undefined || record[field] === null) throw new Error(`no ${field}`);
    shape.parse(record[field], field);
  }
  if (Number.isNaN(Date.parse(record.created as string)))
    throw new Error(`invalid created: ${JSON.stringify(record.created)} is not a time`);
  stateShape.parse(record.state, 'State');
  const state = record.state as Record<string, unknown>;
  if (!statuses.has(state.Status as string)) throw new Error(`invalid State.Status: ${JSON.stringify(state.Status)}`);
  if (typeof record.config !== 'object' || record.config === null) throw new Error('no Config');
  containerConfigShape.parse(record.config, 'Config');
  if (typeof record.hostConfig !== 'object' || record.hostConfig === null) throw new Error('no HostConfig');
  hostConfigShape.parse(record.hostConfig, 'HostConfig');
}
