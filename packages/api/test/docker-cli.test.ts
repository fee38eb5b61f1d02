import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Harness, startServer } from './support/harness.js';

/**
 * The real docker CLI 28 against the API server over the fake engine. Skipped (and
 * reported as such, not as passed) when the CLI is not installed.
 */
const dockerBin = '/usr/local/bin/docker';
const haveDocker = existsSync(dockerBin);

let h: Harness;
let configDir: string;

test.before(async () => {
  h = await startServer();
  configDir = mkdtempSync('/tmp/berth-unit-api-dockercfg-');
});
test.after(async () => {
  await h.close();
  rmSync(configDir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const transcript: string[] = [];

function docker(args: string[], input?: string, timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(dockerBin, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DOCKER_HOST: `unix://${h.socket}`, DOCKER_CONFIG: configDir, HOME: configDir },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`docker ${args.join(' ')} timed out; stdout=${stdout} stderr=${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (process.env.BAPI_TRANSCRIPT) {
        process.stderr.write(`$ docker ${args.join(' ')}  → exit ${code}\n${stdout}${stderr ? `[stderr] ${stderr}` : ''}\n`);
      }
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

const cliTest = haveDocker ? test : test.skip;

cliTest('docker version negotiates 1.41 and shows the server', async () => {
  const r = await docker(['version']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /API version:\s+1\.41 \(downgraded from 1\.50\)/);
  assert.match(r.stdout, /Server:[\s\S]*Version:\s+0\.1\.0-fake/);
});

cliTest('docker info', async () => {
  const r = await docker(['info']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /Server Version: 0\.1\.0-fake/);
  assert.match(r.stdout, /Storage Driver: fakefs/);
});

cliTest('docker images and docker ps', async () => {
  let r = await docker(['images']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\nbusybox\s+latest\s+[0-9a-f]{12}\s/);
  r = await docker(['ps']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES\n$/);
});

cliTest('docker run --rm prints the output and exits with the container code', async () => {
  const r = await docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo hi; echo oops >&2; exit 3']);
  assert.is(r.stdout, 'hi\n');
  assert.is(r.stderr, 'oops\n');
  assert.is(r.code, 3);
  // --rm: the container is gone.
  const ps = await docker(['ps', '-aq']);
  assert.is(ps.stdout, '');
});

cliTest('docker run echo hi exits 0', async () => {
  const r = await docker(['run', '--rm', 'busybox', 'echo', 'hi']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'hi\n');
});

cliTest('docker run -i pipes stdin through the hijacked connection', async () => {
  const r = await docker(['run', '-i', '--rm', 'busybox', 'cat'], 'line1\nline2\n');
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'line1\nline2\n');
});

cliTest('docker run -t (tty) without --rm, then docker wait and docker rm', async () => {
  let r = await docker(['run', '-t', '--name', 'bapi-tty', 'busybox', 'sh', '-c', 'echo in-tty; exit 6']);
  assert.is(r.stdout, 'in-tty\r\n');
  assert.is(r.code, 6);
  r = await docker(['wait', 'bapi-tty']);
  assert.is(r.stdout, '6\n');
  r = await docker(['rm', 'bapi-tty']);
  assert.is(r.code, 0, r.stderr);
});

cliTest('docker run -d, ps, logs, inspect, stop, start, rm', async () => {
  let r = await docker([
    'run',
    '-d',
    '--name',
    'bapi-web',
    'busybox',
    'sh',
    '-c',
    'echo one; echo two >&2; trap "exit 143" TERM; sleep inf & wait',
  ]);
  assert.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  r = await docker(['ps']);
  assert.match(r.stdout, new RegExp(`\\n${id.slice(0, 12)}\\s+busybox\\s+"sh -c echo one; ech…"\\s+.*Up 1 second\\s+bapi-web\\n`));
  r = await docker(['logs', 'bapi-web']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'one\n');
  assert.is(r.stderr, 'two\n');
  r = await docker(['logs', '-t', '--tail', '1', 'bapi-web']);
  assert.match(r.stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z two\n$/);
  r = await docker(['inspect', '-f', '{{.State.Status}} {{.Name}} {{.Config.Image}}', 'bapi-web']);
  assert.is(r.stdout, 'running /bapi-web busybox\n');
  r = await docker(['start', 'bapi-web']);
  assert.is(r.code, 0, `start of a running container (304) is not an error: ${r.stderr}`);
  r = await docker(['stop', 'bapi-web']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'bapi-web\n');
  r = await docker(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
  assert.is(r.stdout, 'bapi-web Exited (143) 1 second ago\n');
  r = await docker(['rm', 'bapi-web']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'bapi-web\n');
});

cliTest('docker restart -t 1 stops a running container with the timeout and starts it again', async () => {
  let r = await docker(['run', '-d', '--name', 'bapi-rs', 'busybox', 'sh', '-c', 'sleep inf']);
  assert.is(r.code, 0, r.stderr);
  const started = Date.now();
  r = await docker(['restart', '-t', '1', 'bapi-rs']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'bapi-rs\n');
  assert.ok(Date.now() - started >= 900, 'PID 1 ignored SIGTERM: restart waited for the timeout');
  assert.equal(h.engine.calls.find((c) => c.method === 'containers.restart')!.args, ['bapi-rs', 1]);
  r = await docker(['inspect', '-f', '{{.State.Status}}', 'bapi-rs']);
  assert.is(r.stdout, 'running\n');
  r = await docker(['rm', '-f', 'bapi-rs']);
  assert.is(r.code, 0, r.stderr);
});

cliTest('docker rm nosuch prints the daemon 404 message', async () => {
  const r = await docker(['rm', 'nosuch']);
  assert.is(r.code, 1);
  assert.is(r.stderr.trim(), 'Error response from daemon: No such container: nosuch');
});

cliTest('docker inspect nosuch probes every type and reports No such object', async () => {
  const r = await docker(['inspect', 'nosuch']);
  assert.is(r.code, 1);
  assert.is(r.stdout.trim(), '[]');
  assert.match(r.stderr, /No such object: nosuch/);
});

cliTest('docker run of an unknown image pulls it, and shows the registry error', async () => {
  const r = await docker(['run', '--rm', 'unknownimage']);
  assert.is(r.code, 125);
  assert.match(r.stderr, /Unable to find image 'unknownimage:latest' locally/);
  assert.match(r.stderr, /manifest for unknownimage:latest not found: manifest unknown/);
});

cliTest('docker tag, image inspect, rmi', async () => {
  let r = await docker(['tag', 'busybox', 'trc/busybox:v1']);
  assert.is(r.code, 0, r.stderr);
  r = await docker(['image', 'inspect', '-f', '{{json .RepoTags}}', 'trc/busybox:v1']);
  assert.is(r.stdout.trim(), '["busybox:latest","trc/busybox:v1"]');
  r = await docker(['rmi', 'trc/busybox:v1']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'Untagged: trc/busybox:v1\n');
});

cliTest('docker import, load and save', async () => {
  const tarFile = join(configDir, 'in.tar');
  writeFileSync(tarFile, Buffer.alloc(4096, 3));
  let r = await docker(['import', tarFile, 'trc/imported:1']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
  r = await docker(['load', '-i', tarFile]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'Loaded image: busybox:latest\n');
  const out = join(configDir, 'out.tar');
  r = await docker(['save', '-o', out, 'busybox']);
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(out));
});

cliTest('docker events --since --until replays what happened', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  await docker(['run', '--rm', '--name', 'bapi-ev', 'busybox', 'exit', '5']);
  const r = await docker([
    'events',
    '--since',
    String(since),
    '--until',
    String(Math.ceil(Date.now() / 1000) + 1),
    '--filter',
    'container=bapi-ev',
  ]);
  assert.is(r.code, 0, r.stderr);
  const actions = r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[2]);
  assert.equal(actions, ['create', 'attach', 'start', 'die', 'destroy']);
  assert.match(r.stdout, / container die [0-9a-f]{64} \(exitCode=5, image=busybox, name=bapi-ev\)/);
});

test.run();
