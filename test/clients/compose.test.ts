import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite, repo, run, type TestDaemon } from '../e2e/harness';

/**
 * docker-compose v1 (Debian's `docker-compose`, 1.29) against an isolated berthd: a
 * two-service busybox project (test/clients/compose/two-services) brought up, listed and
 * taken down. Compose v1's requests, in order: inspect the project network, create it
 * (labels, Attachable), list containers by two labels (both must match), create each
 * container on the network with its service name as an alias, inspect it, disconnect and
 * connect it again (aliases: service name and short id) before starting it; down stops,
 * removes the containers, then the network. Name resolution between the services and a
 * published port are compose-full.test.ts's.
 */
const test = daemonSuite('clients: docker-compose v1', 'overlay');

const project = 'berthcompose';
const file = path.join(repo, 'test/clients/compose/two-services/docker-compose.yml');

function compose(daemon: TestDaemon, args: string[]): ReturnType<typeof run> {
  return run('docker-compose', ['-p', project, '-f', file, ...args], {
    DOCKER_HOST: daemon.host,
    DOCKER_CONFIG: path.join(daemon.dir, 'docker-config'),
  });
}

test('docker-compose up -d, ps, down: a labelled network, both services on it under their names, everything removed', async ({
  daemon,
}) => {
  try {
    const up = await compose(daemon, ['up', '-d']);
    assert.is(up.code, 0, up.stderr);

    const ps = await compose(daemon, ['ps']);
    assert.is(ps.code, 0, ps.stderr);
    const rows = ps.stdout.split('\n').filter((l) => l.startsWith(`${project}_`));
    assert.equal(
      rows.map((l) => l.split(/\s+/)[0]),
      [`${project}_db_1`, `${project}_web_1`],
      ps.stdout,
    );
    for (const row of rows) assert.match(row, /\sUp\s/);

    const network = JSON.parse(await daemon.ok(['network', 'inspect', `${project}_default`]))[0];
    assert.is(network.Labels['com.docker.compose.project'], project);
    assert.is(network.Labels['com.docker.compose.network'], 'default');
    assert.is(network.Attachable, true);
    assert.equal(
      Object.values(network.Containers as Record<string, { Name: string }>)
        .map((c) => c.Name)
        .sort(),
      [`${project}_db_1`, `${project}_web_1`],
    );

    // Each container is on the project network under its service name (and its short id, as compose asks).
    const db = JSON.parse(await daemon.ok(['inspect', `${project}_db_1`]))[0];
    const onNetwork = db.NetworkSettings.Networks[`${project}_default`];
    assert.ok(onNetwork.Aliases.includes('db'), JSON.stringify(onNetwork));
    assert.ok(onNetwork.Aliases.includes(db.Id.slice(0, 12)), JSON.stringify(onNetwork));
    assert.is(Object.keys(db.NetworkSettings.Networks).length, 1);
    // web reaches db on the project network (by address here; by name once the embedded DNS is in).
    let answer = '';
    for (let i = 0; i < 20 && answer !== 'db-answer'; i++) {
      const r = await daemon.docker(['exec', `${project}_web_1`, 'sh', '-c', `nc ${onNetwork.IPAddress} 5432 </dev/null`]);
      answer = r.stdout.trim();
    }
    assert.is(answer, 'db-answer');

    const down = await compose(daemon, ['down']);
    assert.is(down.code, 0, down.stderr);
    assert.is(await daemon.ok(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]), '');
    const left = await daemon.docker(['network', 'inspect', `${project}_default`]);
    assert.is.not(left.code, 0, 'the project network is removed');
  } finally {
    await compose(daemon, ['down']);
  }
});

test.run();
