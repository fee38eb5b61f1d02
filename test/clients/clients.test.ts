import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import * as assert from 'uvu/assert';
import { daemonSuite, repo, run } from '../e2e/harness';

/**
 * Real clients against an isolated berthd: docker-py (Debian's python3-docker, through
 * docker_py.py, which reports each check as a JSON line) and dockerode (npm).
 */
const test = daemonSuite('clients: docker-py and dockerode', 'overlay');

test('docker-py: run, logs, exec_run, inspect, list filters, lifecycle, images (save/load, load errors, prune, df, build), events, info/version', async ({
  daemon,
}) => {
  const r = await run('python3', [path.join(repo, 'test/clients/docker_py.py'), daemon.host], {});
  assert.is(r.code, 0, r.stderr);
  const checks = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { check: string; ok: boolean; error?: string });
  assert.is(checks.length, 9, r.stdout);
  const failed = checks.filter((c) => !c.ok);
  assert.equal(failed, [], failed.map((c) => `${c.check}: ${c.error}`).join('\n'));
});

/** Demultiplexes a dockerode stream (8-byte frames) into its two outputs. */
function demux(docker: Docker, stream: NodeJS.ReadableStream): Promise<{ stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  docker.modem.demuxStream(stream, out, err);
  return new Promise((resolve, reject) => {
    stream.on('end', () => resolve({ stdout, stderr }));
    stream.on('error', reject);
  });
}

test('dockerode: run, logs, exec start/inspect, inspect, list filters, lifecycle, images, events, info/version', async ({ daemon }) => {
  const docker = new Docker({ socketPath: daemon.socket, version: 'v1.41' });
  const version = await docker.version();
  assert.is(version.ApiVersion, '1.41');
  assert.is((await docker.info()).OSType, 'linux');
  assert.is(String(await docker.ping()), 'OK');

  // docker.run: attach, start, wait; given two streams, dockerode demultiplexes the frames.
  const out = new PassThrough();
  const errOut = new PassThrough();
  let text = '';
  let errText = '';
  out.on('data', (d) => (text += d));
  errOut.on('data', (d) => (errText += d));
  const [result, container] = (await docker.run('busybox', ['sh', '-c', 'echo hi; echo oops >&2; exit 2'], [out, errOut], {
    Tty: false,
  })) as [{ StatusCode: number }, Docker.Container];
  assert.is(result.StatusCode, 2);
  assert.equal([text, errText], ['hi\n', 'oops\n']);
  await container.remove();

  const since = Math.floor(Date.now() / 1000) - 1;
  const web = await docker.createContainer({
    Image: 'busybox',
    name: 'nodeweb',
    Cmd: ['sh', '-c', 'echo one; echo two >&2; sleep 300'],
    Labels: { suite: 'node' },
  });
  try {
    await web.start();
    const info = await web.inspect();
    assert.equal([info.Name, info.State.Running, info.Config.Labels, info.Config.Image], ['/nodeweb', true, { suite: 'node' }, 'busybox']);
    assert.ok(info.State.Pid > 0);
    await new Promise((r) => setTimeout(r, 300));
    const logs = (await web.logs({ stdout: true, stderr: true })) as unknown as Buffer;
    assert.ok(Buffer.isBuffer(logs), 'logs without follow are a buffer');
    assert.ok(logs.includes('one\n') && logs.includes('two\n'), logs.toString());

    const exec = await web.exec({ Cmd: ['sh', '-c', 'echo in; echo err >&2; exit 5'], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    assert.equal(await demux(docker, stream), { stdout: 'in\n', stderr: 'err\n' });
    const ei = await exec.inspect();
    assert.equal([ei.ExitCode, ei.Running], [5, false]);

    const listed = await docker.listContainers({ filters: { label: ['suite=node'] } });
    assert.equal(
      listed.map((c) => c.Names),
      [['/nodeweb']],
    );
    assert.is((await docker.listContainers({ filters: { status: ['exited'], name: ['nodeweb'] } })).length, 0);
    await web.pause();
    assert.is((await web.inspect()).State.Status, 'paused');
    await web.unpause();
    await web.rename({ name: 'nodeweb2' });
    assert.is((await web.inspect()).Name, '/nodeweb2');
    await web.restart({ t: 1 });
    assert.is((await web.inspect()).State.Running, true);
    await web.kill();
    assert.is(((await web.wait()) as { StatusCode: number }).StatusCode, 137);
    await web.start();
    await web.stop({ t: 1 });
    assert.is((await web.inspect()).State.Status, 'exited');
  } finally {
    await web.remove({ force: true });
  }

  const events = (await docker.getEvents({
    since,
    until: Math.floor(Date.now() / 1000) + 1,
    // By id: an event carries the name the container had then (nodeweb before the rename), as with dockerd.
    filters: { container: [web.id] },
  })) as unknown as NodeJS.ReadableStream;
  let raw = '';
  for await (const chunk of events) raw += chunk;
  const actions = raw
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { Action: string }).Action);
  for (const a of ['create', 'start', 'pause', 'unpause', 'rename', 'kill', 'die', 'destroy'])
    assert.ok(actions.includes(a), `${a} in ${actions}`);

  const image = docker.getImage('busybox');
  const ii = await image.inspect();
  assert.ok(ii.RepoTags.includes('busybox:latest'), String(ii.RepoTags));
  await image.tag({ repo: 'nodetag', tag: 'v1' });
  const images = await docker.listImages({ filters: { reference: ['nodetag'] } });
  assert.equal(
    images.map((i) => i.Id),
    [ii.Id],
  );
  await docker.getImage('nodetag:v1').remove();
  assert.is((await docker.listImages({ filters: { reference: ['nodetag'] } })).length, 0);
  const gone = await docker
    .getImage('nodetag:v1')
    .inspect()
    .then(
      () => 0,
      (err: { statusCode?: number }) => err.statusCode,
    );
  assert.is(gone, 404);
});

test.run();
