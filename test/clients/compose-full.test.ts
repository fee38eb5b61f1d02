import * as net from 'node:net';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite, repo, run, type TestDaemon } from '../e2e/harness';

/**
 * docker-compose v1 brings up test/clients/compose/full: its web service reaches its db service by name, and answers
 * on a published port on 127.0.0.1; `down` removes all of it (containers, network, rules).
 */
const test = daemonSuite('clients: docker-compose v1 with DNS and published ports', 'overlay');

const project = 'berthcomposefull';
const file = path.join(repo, 'test/clients/compose/full/docker-compose.yml');
let webPort = '';

/** A port free on 127.0.0.1 now (the kernel's pick, released at once): the web service's published port. */
function freePort(): Promise<string> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(String(port)));
    });
    server.on('error', reject);
  });
}

function compose(daemon: TestDaemon, args: string[]): ReturnType<typeof run> {
  return run('docker-compose', ['-p', project, '-f', file, ...args], {
    DOCKER_HOST: daemon.host,
    DOCKER_CONFIG: path.join(daemon.dir, 'docker-config'),
    WEB_PORT: webPort,
  });
}

test('web reaches db by name; web answers on its published port; down removes everything', async ({ daemon }) => {
  webPort = await freePort();
  try {
    const up = await compose(daemon, ['up', '-d']);
    assert.is(up.code, 0, up.stderr);
    let answer = '';
    for (let i = 0; i < 20 && answer !== 'db-answer'; i++) {
      answer = (await daemon.docker(['exec', `${project}_web_1`, 'sh', '-c', 'nc db 5432 </dev/null'])).stdout.trim();
    }
    assert.is(answer, 'db-answer', 'web resolves db by its service name');
    const page = await fetch(`http://127.0.0.1:${webPort}/index.html`).then((r) => r.text());
    assert.is(page.trim(), 'hello-from-web');
    const ps = await compose(daemon, ['ps']);
    assert.match(ps.stdout, new RegExp(`127\\.0\\.0\\.1:${webPort}->8080/tcp`));
    const down = await compose(daemon, ['down']);
    assert.is(down.code, 0, down.stderr);
    const left = await daemon.docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]);
    assert.is(left.stdout.trim(), '');
    assert.is.not((await daemon.docker(['network', 'inspect', `${project}_default`])).code, 0);
    const closed = await fetch(`http://127.0.0.1:${webPort}/`).then(
      () => 'answered',
      () => 'refused',
    );
    assert.is(closed, 'refused', 'the published port is gone with the container');
  } finally {
    await compose(daemon, ['down']);
  }
});

test.run();
