// The process behind PingProbe and pingsNow (support.ts): asks GET /_ping on a fresh
// connection every 20 ms until the parent says stop (or goes away), or `count` times
// when given one, then sends back what it saw. A process of its own, so that the
// test's own work (opening thousands of sockets, running the docker CLI) never delays
// a ping and is blamed on the daemon.
//
//   node ping-probe-process.js <socket> [count]
'use strict';
const net = require('node:net');

const socketPath = process.argv[2];
const count = Number(process.argv[3] || 0);
const perPingLimitMs = 20_000;

function pingOnce() {
  return new Promise((resolve) => {
    const s = net.createConnection(socketPath);
    let got = '';
    const timer = setTimeout(() => finish(`no answer within ${perPingLimitMs / 1000} s`), perPingLimitMs);
    const finish = (result) => {
      clearTimeout(timer);
      s.destroy();
      resolve(result);
    };
    s.on('connect', () => s.write('GET /_ping HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n'));
    s.on('data', (d) => {
      got += d;
      if (got.includes('\r\n\r\nOK')) finish(got.startsWith('HTTP/1.1 200') ? 'ok' : got.split('\r\n')[0]);
    });
    s.on('error', (e) => finish(`error ${e.code}`));
    s.on('end', () => finish(got ? got.split('\r\n')[0] : 'closed without an answer'));
  });
}

let running = true;
process.on('message', () => (running = false));
process.on('disconnect', () => process.exit(0));

async function main() {
  const result = { answered: 0, failures: [], timesMs: [] };
  // A fresh process's first connection pays for its own warm-up (lazy modules, cold
  // code: ~50 ms measured): with a count, one ping first that is checked but not timed.
  if (count) {
    const status = await pingOnce();
    if (status !== 'ok') result.failures.push(status);
  }
  // The ping in flight when stop arrives counts: even a short attack sees one answer.
  do {
    const started = process.hrtime.bigint();
    const status = await pingOnce();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (status === 'ok') {
      result.answered++;
      result.timesMs.push(Math.round(ms * 10) / 10);
    } else result.failures.push(status);
    if (count && result.answered + result.failures.length >= count) running = false;
    if (running) await new Promise((r) => setTimeout(r, 20));
  } while (running);
  process.send(result, () => process.exit(0));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
