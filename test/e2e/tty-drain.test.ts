import * as net from 'node:net';
import * as assert from 'uvu/assert';
import { daemonSuite } from './harness';

/**
 * The last output of a terminal process reaches an attached client, however the exit
 * races with what the client sends meanwhile (as the docker CLI sends a resize and stdin
 * while `run -it` ends). Through the API, without the CLI: create, hijacked attach with
 * stdin, start, then resizes and stdin's close while the process prints and exits.
 */
const test = daemonSuite('terminal output at exit', 'overlay');

const runs = 50;
const side = 2;

/** A hijacked attach: resolves once the 101 is in, with everything the connection brings until it closes. */
function attach(socketPath: string, id: string): Promise<{ socket: net.Socket; output: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let received = Buffer.alloc(0);
    let upgraded = false;
    const output = new Promise<string>((done) => socket.on('close', () => done(received.toString('latin1'))));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (upgraded) return;
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = received.subarray(0, end).toString('latin1');
      if (!status.startsWith('HTTP/1.1 101')) return reject(new Error(`attach answered ${status}`));
      upgraded = true;
      received = received.subarray(end + 4);
      resolve({ socket, output });
    });
    socket.on('error', reject);
    socket.write(
      `POST /v1.41/containers/${id}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: berth\r\n` +
        'Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n',
    );
  });
}

test(`run -t that prints and exits, ${runs} times: the last line always arrives`, async ({ daemon }) => {
  const lost: string[] = [];
  const one = async (n: number) => {
    const created = await daemon.request(
      'POST',
      '/v1.41/containers/create',
      JSON.stringify({
        Image: 'busybox',
        Tty: true,
        OpenStdin: true,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Cmd: ['sh', '-c', `echo first; echo last-${n}`],
        HostConfig: { AutoRemove: true },
      }),
      { 'Content-Type': 'application/json' },
    );
    assert.is(created.status, 201, created.body);
    const id = (JSON.parse(created.body) as { Id: string }).Id;
    const { socket, output } = await attach(daemon.socket, id);
    let over = false;
    void output.then(() => (over = true));
    const started = await daemon.request('POST', `/v1.41/containers/${id}/start`);
    assert.is(started.status, 204, started.body);
    socket.end(); // stdin's EOF, as the CLI sends it when its own stdin ends
    // Resizes until the stream ends: each is a request to the shim that may cross its exit.
    while (!over) await daemon.request('POST', `/v1.41/containers/${id}/resize?h=20&w=70`);
    const text = await output;
    if (!text.includes(`last-${n}\r\n`)) lost.push(`run ${n}: ${JSON.stringify(text)}`);
  };
  // Two at a time: the exits race with each other's requests too.
  for (let n = 0; n < runs; n += side) {
    await Promise.all(Array.from({ length: side }, (_, k) => one(n + k)));
  }
  assert.equal(lost, [], `the last line was lost in ${lost.length} of ${runs} runs`);
});

test.run();
