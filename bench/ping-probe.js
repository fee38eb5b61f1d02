// Asks GET /_ping on a fresh connection every 10 ms, from a process of its own, until
// stopped. A separate process because the benchmark's own event loop is busy opening
// thousands of sockets: pings timed there would include that wait and blame the daemon.
//
//   const probe = startPingProbe(sock); ...; const { times, failures } = await probe.stop();
'use strict';
const { fork } = require('node:child_process');
const { timedRequest } = require('./support.js');

/** Starts the probe on `sock`; `stop()` resolves the latencies of the answered pings and the failures. */
function startPingProbe(sock) {
  const child = fork(__filename, [sock], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, NODE_OPTIONS: '' } });
  const result = new Promise((resolve, reject) => {
    child.on('message', (m) => m !== 'ready' && resolve(m));
    child.once('exit', (code) => reject(new Error(`ping probe exited with ${code} before reporting`)));
  });
  // The child says 'ready' after one untimed ping: a fresh process's first connection pays its own warm-up.
  const ready = new Promise((resolve) => child.once('message', (m) => m === 'ready' && resolve()));
  return {
    ready,
    async stop() {
      await ready;
      child.send('stop');
      return result;
    },
  };
}

if (require.main === module) {
  const sock = process.argv[2];
  const times = [];
  let failures = 0;
  let running = true;
  process.on('message', () => (running = false));
  async function main() {
    await timedRequest(sock, 'GET /_ping', 30_000);
    process.send('ready');
    while (running) {
      const [ms, status] = await timedRequest(sock, 'GET /_ping', 30_000);
      if (status.startsWith('HTTP/1.1 200')) times.push(ms);
      else failures++;
      await new Promise((r) => setTimeout(r, 10));
    }
    process.send({ times, failures }, () => process.exit(0));
  }

  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

module.exports = { startPingProbe };
