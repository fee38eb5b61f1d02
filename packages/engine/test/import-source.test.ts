import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isBerthError } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { downloadTarball, importUrl } from '../src/images/import-source.js';

test('importUrl: http assumed without a scheme, as dockerd does; only http and https', () => {
  assert.is(importUrl('127.0.0.1:5300/rootfs.tar').href, 'http://127.0.0.1:5300/rootfs.tar');
  assert.is(importUrl('https://example.invalid/x.tgz').protocol, 'https:');
  for (const bad of ['ftp://host/x.tar', 'file:///etc/passwd']) {
    assert.throws(
      () => importUrl(bad),
      (err: unknown) => isBerthError(err, 'InvalidArgument') && /only http and https/.test(String(err)),
    );
  }
  assert.throws(() => importUrl('http://[::1'), /not "-" nor a URL/);
});

test('downloadTarball: the body streams once the server answered 2xx; a 404 is a NotFound naming the URL', async () => {
  const server = http.createServer((req, res) => {
    if (req.url === '/ok.tar') res.end('tar bytes');
    else {
      res.writeHead(req.url === '/gone.tar' ? 404 : 500);
      res.end('no');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of await downloadTarball(new URL(`${base}/ok.tar`))) chunks.push(chunk as Buffer);
    assert.is(Buffer.concat(chunks).toString(), 'tar bytes');
    const missing = await downloadTarball(new URL(`${base}/gone.tar`)).catch((err: unknown) => err);
    assert.ok(isBerthError(missing, 'NotFound'));
    assert.is((missing as Error).message, `error downloading ${base}/gone.tar: 404 Not Found`);
    const failing = await downloadTarball(new URL(`${base}/boom.tar`)).catch((err: unknown) => err);
    assert.match(String((failing as Error).message), `error downloading ${base}/boom.tar: 500 Internal Server Error`);
  } finally {
    server.close();
  }
  const refused = await downloadTarball(new URL(`${base}/ok.tar`)).catch((err: unknown) => err);
  assert.match(String((refused as Error).message), `error downloading ${base}/ok.tar: `);
});

test.run();
