import type { ContainerRecord } from '../../src/containers/container-record.js';
import { containerRecordSchema } from '../../src/state/record-schema.js';

/** A container record as ContainerCreator writes one for `docker create busybox true`: every field the views read, well typed. */
export function recordFixture(id: string, name: string): ContainerRecord {
  return {
    schemaVersion: containerRecordSchema,
    id,
    name,
    created: '2024-05-01T10:00:00.000Z',
    imageRef: 'busybox',
    imageId: `sha256:${'e'.repeat(64)}`,
    config: {
      Hostname: id.slice(0, 12),
      Domainname: '',
      User: '',
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['true'],
      Entrypoint: null,
      WorkingDir: '',
      Labels: { app: 'web' },
      Volumes: {},
      Image: 'busybox',
      StopSignal: 'SIGTERM',
    },
    hostConfig: { NetworkMode: 'default', Binds: null, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, Runtime: 'runc' },
    path: 'true',
    args: [],
    storageDriver: 'overlay',
    rootfsMounts: [],
    runtime: 'runc',
    networkMode: 'default',
    networks: [{ network: 'default' }],
    state: {
      Status: 'created',
      Running: false,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: 0,
      ExitCode: 0,
      Error: '',
      StartedAt: '0001-01-01T00:00:00Z',
      FinishedAt: '0001-01-01T00:00:00Z',
    },
    restartCount: 0,
  };
}
