import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite, repo, type TestDaemon } from '../e2e/harness';
import {
  assertJsonError,
  assertPingsWithinBound,
  dataRootListing,
  firstResponse,
  hostileArgs,
  pingsWhileHolding,
  readUntilClosed,
  type SocketPool,
  underAttack,
} from './support';

/**
 * Slow and idle clients and connection floods, on a berthd whose limits are short (1 s
 * timeouts, 256 connections): slowloris is cut, stalled uploads are answered 408 and
 * leave nothing, a flood of a few thousand sockets is held to the limit while `docker
 * run` and /_ping still work, and long-lived streams outlive every timeout.
 */
const test = daemonSuite('hostile slow clients and floods', 'overlay', { args: hostileArgs });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

test('headers dribbled byte by byte, or never sent, are cut with a JSON 408', async ({ daemon }) => {
  await underAttack(daemon, async (pool) => {
    const request = 'GET /v1.41/containers/json HTTP/1.1\r\nHost: berth\r\nX-Slow: yes\r\nX-Slower: yes\r\n\r\n';
    const answers: Array<Promise<string>> = [];
    const drips: NodeJS.Timeout[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const s = await pool.connect(daemon.socket);
        answers.push(readUntilClosed(s));
        if (i % 2 === 0) continue; // half never send a byte
        let at = 0;
        // One byte every 100 ms: the request would take 7 s, seven times the headers timeout.
        drips.push(setInterval(() => s.writable && at < request.length && s.write(request[at++]!), 100));
      }
      await assertPingsWithinBound(daemon.socket, '20 slowloris connections');
      for (const answer of answers) assertJsonError(await answer, 408, 'slowloris');
    } finally {
      for (const d of drips) clearInterval(d);
    }
  });
});

test('an upload that never completes gets a JSON 408 and leaves nothing on disk', async ({ daemon }) => {
  const tar = (await import('node:fs')).readFileSync(path.join(repo, 'test/fixtures/.cache/busybox.tar'));
  const pingProblems: Array<string | undefined> = [];
  await underAttack(daemon, async (pool) => {
    const stalls: Array<[string, Buffer]> = [
      [
        'POST /v1.41/images/load HTTP/1.1\r\nHost: berth\r\nContent-Type: application/x-tar\r\n',
        tar.subarray(0, Math.min(tar.length - 1, 600 * 1024)),
      ],
      [
        'POST /v1.41/images/create?fromSrc=-&repo=stalled HTTP/1.1\r\nHost: berth\r\nContent-Type: application/x-tar\r\n',
        tar.subarray(0, 20 * 1024),
      ],
      [
        'POST /v1.41/containers/create?name=stalled HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\n',
        Buffer.from('{"Image":"bus'),
      ],
    ];
    for (const [head, part] of stalls) {
      const s = await pool.connect(daemon.socket);
      const answer = readUntilClosed(s);
      s.write(`${head}Content-Length: ${tar.length}\r\n\r\n`);
      s.write(part);
      // Checked at the end: a failure here must not skip the wait for the engine's cleanup below.
      pingProblems.push(await pingsWhileHolding(daemon.socket, `a stalled upload (${head.split(' ')[1]})`));
      const message = assertJsonError(await answer, 408, head.split(' ')[1]!);
      assert.is(message, 'request body stalled: nothing received for 1 s');
    }
    // The engine removes what a failed load or import had begun (an unpacking directory, a
    // partial blob in ingest/); give it a moment.
    const begun = (p: string) => (p.startsWith('tmp/') && p !== 'tmp/') || (p.startsWith('blobs/ingest/') && p !== 'blobs/ingest/');
    for (let i = 0; i < 50 && dataRootListing(daemon.dataRoot).some(begun); i++) await sleep(100);
  });
  assert.equal(pingProblems.filter(Boolean), [], 'every /_ping while an upload stalled was answered within the bound');
  assert.equal((await daemon.berth(['images', '--format', '{{.Repository}}'])).stdout.trim(), 'busybox');
});

test('an idle keep-alive connection is closed after the idle timeout', async ({ daemon }) => {
  await underAttack(daemon, async (pool) => {
    const s = await pool.connect(daemon.socket);
    const all = readUntilClosed(s, 5000);
    s.write('GET /_ping HTTP/1.1\r\nHost: berth\r\n\r\n');
    const raw = await all; // closed by the server about 1 s after the answer
    assert.is(firstResponse(raw).status, 200);
    assert.match(raw, /Keep-Alive: timeout=1/);
  });
});

/** Opens `count` sockets as fast as the daemon accepts them; resolves once all are open or refused. */
async function flood(pool: SocketPool, daemon: TestDaemon, count: number): Promise<{ closedByServer: number }> {
  let closedByServer = 0;
  const opening: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    opening.push(
      pool.connect(daemon.socket).then(
        (s) => {
          s.on('error', () => {});
          s.once('end', () => closedByServer++);
        },
        () => {
          closedByServer++;
        },
      ),
    );
    if (i % 100 === 99) await Promise.all(opening.splice(0));
  }
  await Promise.all(opening);
  return {
    get closedByServer() {
      return closedByServer;
    },
  };
}

test('a flood of 2000 idle sockets is held to the limit; docker run and /_ping keep working', async ({ daemon }) => {
  // The first run unpacks busybox into a snapshot that stays: made before the listing is taken.
  const warm = await daemon.docker(['run', '--rm', 'busybox', 'true']);
  assert.is(warm.code, 0, warm.stderr);
  const pid = daemon.pid!;
  const idleFds = openFds(pid);
  let peakFds = idleFds;
  const sampler = setInterval(() => {
    peakFds = Math.max(peakFds, openFds(pid));
  }, 20);
  try {
    await underAttack(daemon, async (pool) => {
      const running = daemon.docker(['run', '--rm', 'busybox', 'echo', 'through the flood']);
      const result = await flood(pool, daemon, 2000);
      const run = await running;
      assert.is(run.code, 0, run.stderr);
      assert.is(run.stdout.trim(), 'through the flood');
      await assertPingsWithinBound(daemon.socket, 'a flood of 2000 sockets');
      // Another run while the flood's sockets are all still held.
      const again = await daemon.docker(['run', '--rm', 'busybox', 'true']);
      assert.is(again.code, 0, again.stderr);
      assert.ok(result.closedByServer >= 2000 - 256, `the daemon closed the surplus (${result.closedByServer} of 2000)`);
    });
  } finally {
    clearInterval(sampler);
  }
  // 256 connections, the sockets it is letting linger for a second, and what it had before.
  assert.ok(peakFds < idleFds + 256 + 600, `berthd held ${peakFds} fds at the peak (${idleFds} idle): the flood was bounded`);
});

test('docker events, logs -f and attach outlive every timeout', async ({ daemon }) => {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: daemon.host, DOCKER_CONFIG: path.join(daemon.dir, 'docker-config') };
  delete env.NODE_OPTIONS;
  const started: Array<ReturnType<typeof spawn>> = [];
  const run = (args: string[]) => {
    const p = spawn('/usr/local/bin/docker', args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    started.push(p);
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    return { proc: p, output: () => out };
  };
  try {
    const ticker = await daemon.docker([
      'run',
      '-d',
      '--name',
      'ticker',
      'busybox',
      'sh',
      '-c',
      'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.5; done',
    ]);
    assert.is(ticker.code, 0, ticker.stderr);
    const events = run(['events', '--filter', 'type=container', '--format', '{{.Action}} {{.Actor.Attributes.name}}']);
    const logs = run(['logs', '-f', 'ticker']);
    const attach = run(['run', '-i', '--rm', '--name', 'echoer', 'busybox', 'cat']);
    await sleep(3500); // past the headers, idle and upload-idle timeouts, three times over
    attach.proc.stdin!.write('still attached\n');
    const created = await daemon.docker(['create', '--name', 'late-event', 'busybox', 'true']);
    assert.is(created.code, 0, created.stderr);
    const ticksAt = (logs.output().match(/tick/g) ?? []).length;
    for (let i = 0; i < 100 && !(events.output().includes('create late-event') && attach.output().includes('still attached')); i++)
      await sleep(50);
    await sleep(1200);
    assert.match(events.output(), 'create late-event', 'the events stream still delivers');
    assert.match(attach.output(), 'still attached', 'the attach session still echoes');
    assert.ok((logs.output().match(/tick/g) ?? []).length > ticksAt, 'logs -f still follows');
    for (const p of [events.proc, logs.proc, attach.proc]) assert.is(p.exitCode, null, 'still running');
    attach.proc.stdin!.end();
  } finally {
    for (const p of started) p.kill('SIGKILL');
    await daemon.docker(['rm', '-f', 'ticker', 'late-event', 'echoer']);
  }
});

test('200 concurrent /info calls all succeed while /_ping is answered', async ({ daemon }) => {
  await underAttack(daemon, async (pool) => {
    const answers = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const s = await pool.connect(daemon.socket);
        const answer = readUntilClosed(s, 30_000);
        s.write('GET /v1.41/info HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n');
        return firstResponse(await answer);
      }),
    );
    for (const a of answers) {
      assert.is(a.status, 200);
      assert.is(JSON.parse(a.body.replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, '')).Driver, 'overlay');
    }
  });
});

test.run();
