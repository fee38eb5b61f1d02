'use strict';
// A zero-latency fake berthd for timing the CLI alone: answers version, and plays a
// container for `run` (create, attach 101, wait, start, output, exit 0).
// Usage: node fake-run-daemon.js <socket-path>   (built @berth/client required)
const { FakeDaemon, UPGRADE_RESPONSE, sendJson } = require('@berth/client/testing');
const { encodeFrame } = require('@berth/client');

const ID = 'c0ffee'.padEnd(64, '0');
void (async () => {
  const fake = await FakeDaemon.start('bcli-bench');
  const attach = new Map();
  const waits = new Map();
  fake.on('GET', '/version', (_q, res) =>
    sendJson(res, 200, { Version: '0.1.0', ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64' }),
  );
  fake.on('POST', '/containers/create', (_q, res) => sendJson(res, 201, { Id: ID, Warnings: [] }));
  fake.onUpgrade('POST', `/containers/${ID}/attach`, (req, socket) => {
    socket.write(UPGRADE_RESPONSE);
    socket.on('data', () => {});
    socket.on('error', () => {});
    attach.set(req.connection, socket);
  });
  fake.on('POST', `/containers/${ID}/wait`, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    waits.set(req.connection, res);
  });
  fake.on('POST', `/containers/${ID}/start`, (_q, res) => {
    res.writeHead(204);
    res.end();
    for (const s of attach.values()) s.end(encodeFrame(1, ''));
    for (const w of waits.values()) w.end('{"StatusCode":0,"Error":null}\n');
    attach.clear();
    waits.clear();
    fake.requests.length = 0;
    fake.log.length = 0;
  });
  process.stdout.write(`${fake.socketPath}\n`);
  const stop = async () => {
    await fake.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
})();
