// A stand-in daemon for `docker exec target true` that answers each of the CLI's requests
// at once (ping, container inspect, exec create, exec start hijacked and closed with no
// output, exec inspect: exit 0), so timing the CLI against it gives the CLI's own share
// of an exec: its process start and its work between requests. bench/exec.js runs it as
// a child process (its timed runs block their own event loop).
// Usage: node bench/instant-exec-daemon.js SOCKET [ANSWERS]   (prints "ready" once it listens)
// ANSWERS: a JSON file of a real daemon's answers to replay ({ containerInspect, execInspect },
// the bodies it sent): the CLI's share then includes its decoding of real bodies (a whole
// container inspect builds the Go decoder's caches of every type in it), not of minimal ones.
'use strict';
const fs = require('node:fs');
const http = require('node:http');

const socket = process.argv[2];
const answers = process.argv[3] ? JSON.parse(fs.readFileSync(process.argv[3], 'utf8')) : {};
const execId = 'e'.repeat(64);
const json = (res, status, body) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Api-Version': '1.41', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
};
const server = http.createServer((req, res) => {
  const url = req.url.replace(/^\/v1\.\d+/, '');
  if (url.startsWith('/_ping')) {
    res.writeHead(200, { 'Api-Version': '1.41', 'Content-Type': 'text/plain', 'Content-Length': 2 });
    return res.end(req.method === 'HEAD' ? undefined : 'OK');
  }
  if (url.startsWith('/containers/target/json')) {
    return json(
      res,
      200,
      answers.containerInspect ?? { Id: 't'.repeat(64), Name: '/target', State: { Running: true, Paused: false }, Config: { Tty: false } },
    );
  }
  if (url.startsWith('/containers/target/exec')) return json(res, 201, { Id: execId });
  if (url.startsWith(`/exec/${execId}/json`)) {
    const real = answers.execInspect && { ...answers.execInspect, ID: execId };
    return json(res, 200, real ?? { ID: execId, Running: false, ExitCode: 0, Pid: 0, ProcessConfig: { tty: false } });
  }
  json(res, 404, { message: `instant-exec-daemon: unexpected ${req.method} ${req.url}` });
});
// exec start: the CLI upgrades the connection; answer 101 and end the stream at once.
server.on('upgrade', (_req, conn) => {
  conn.end('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
});
fs.rmSync(socket, { force: true });
server.listen(socket, () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
