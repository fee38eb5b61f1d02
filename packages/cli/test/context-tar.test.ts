import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { contextTar } from '../src/build/context-tar.js';

/** GNU tar's verbose listing of `data`: what another tar reader makes of the context. */
function listing(data: Buffer): string[] {
  return execFileSync('tar', ['-tv', '--numeric-owner', '-f', '-'], { input: data, encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.split(/\s+/))
    .map((f) => `${f[0]} ${f[1]} ${f.slice(5).join(' ')}`);
}

async function bytes(dir: string, extra?: Parameters<typeof contextTar>[1]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await contextTar(dir, extra)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

test('contextTar: every kind of entry, sorted, owned by 0:0, long names, a big file, in writes of about 64 KiB', async () => {
  const dir = fs.mkdtempSync('/tmp/berth-unit-cli-ctx-');
  try {
    const long = `${'d'.repeat(120)}/${'n'.repeat(90)}`;
    fs.mkdirSync(path.join(dir, 'sub/deeper'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'd'.repeat(120)));
    fs.writeFileSync(path.join(dir, long), 'long');
    fs.writeFileSync(path.join(dir, 'a'), 'alpha');
    fs.linkSync(path.join(dir, 'a'), path.join(dir, 'hard'));
    fs.symlinkSync('a', path.join(dir, 'link'));
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    fs.writeFileSync(path.join(dir, 'sub/deeper/x'), 'x');
    fs.chmodSync(path.join(dir, 'sub'), 0o751);
    const big = Buffer.alloc((1 << 20) + 12345, 7);
    fs.writeFileSync(path.join(dir, 'big'), big);
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\n');

    const chunks: Buffer[] = [];
    for await (const chunk of await contextTar(dir)) chunks.push(chunk as Buffer);
    const data = Buffer.concat(chunks);
    assert.ok(chunks.length < 40, `${chunks.length} writes for ${data.length} bytes`);
    assert.equal(listing(data), [
      '-rw-r--r-- 0/0 Dockerfile',
      '-rw-r--r-- 0/0 a',
      `-rw-r--r-- 0/0 big`,
      `drwxr-xr-x 0/0 ${'d'.repeat(120)}/`,
      `-rw-r--r-- 0/0 ${long}`,
      'prw-r--r-- 0/0 fifo',
      'hrw-r--r-- 0/0 hard link to a',
      'lrwxrwxrwx 0/0 link -> a',
      'drwxr-x--x 0/0 sub/',
      'drwxr-xr-x 0/0 sub/deeper/',
      '-rw-r--r-- 0/0 sub/deeper/x',
    ]);
    const out = fs.mkdtempSync('/tmp/berth-unit-cli-ctx-out-');
    try {
      execFileSync('tar', ['-x', '-f', '-', '-C', out], { input: data });
      assert.ok(fs.readFileSync(path.join(out, 'big')).equals(big), 'the big file streamed whole');
      assert.is(fs.readFileSync(path.join(out, long), 'utf8'), 'long');
      assert.is(fs.statSync(path.join(out, 'a')).mtimeMs, Math.floor(fs.statSync(path.join(dir, 'a')).mtimeMs / 1000) * 1000);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }

    // A Dockerfile from outside: the extra files replace the directory's of the same name, after the rest.
    fs.writeFileSync(path.join(dir, '.dockerignore'), 'big\n');
    const withExtra = listing(
      await bytes(dir, [
        { name: '.dockerignore', content: Buffer.from('big\n.dockerfile.x\n'), mode: 0o644 },
        { name: '.dockerfile.x', content: Buffer.from('FROM scratch\n'), mode: 0o600 },
      ]),
    );
    assert.equal(withExtra.slice(-2), ['-rw-r--r-- 0/0 .dockerignore', '-rw------- 0/0 .dockerfile.x']);
    assert.is(withExtra.filter((l) => l.endsWith(' .dockerignore')).length, 1, 'the directory’s .dockerignore is replaced');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
