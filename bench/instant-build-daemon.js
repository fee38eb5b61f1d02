// A stand-in daemon for `docker build -q` (the classic builder) that reads the whole
// context the CLI sends and answers at once with an image id, so timing the CLI against
// it gives the CLI's own share of a build: its process start, walking and packing the
// context, and sending it. bench/build.js runs it as a child process (its timed runs
// block their own event loop).
// Usage: node bench/instant-build-daemon.js SOCKET   (prints "ready" once it listens)
'use strict';
const fs = require('node:fs');
const http = require('node:http');

const socket = process.argv[2];
const server = http.createServer((req, res) => {
  const url = req.url.replace(/^\/v1\.\d+/, '');
  if (url.startsWith('/_ping')) {
    res.writeHead(200, { 'Api-Version': '1.41', 'Builder-Version': '1', 'Content-Type': 'text/plain', 'Content-Length': 2 });
    return res.end(req.method === 'HEAD' ? undefined : 'OK');
  }
  if (req.method === 'POST' && url.startsWith('/build')) {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': '1.41' });
      res.end(`${JSON.stringify({ stream: `sha256:${'b'.repeat(64)}\n` })}\n`);
    });
    return;
  }
  const text = JSON.stringify({ message: `instant-build-daemon: unexpected ${req.method} ${req.url}` });
  res.writeHead(404, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
});
fs.rmSync(socket, { force: true });
server.listen(socket, () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
