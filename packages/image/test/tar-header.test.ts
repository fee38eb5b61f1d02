import { type TarWriteEntry, writeTar } from '@berth/image';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeHeader, tarHeader } from '../src/tar/header.js';
import { collect } from './helpers.js';

/** What readTar takes from a header, or the error, as a comparable value. */
function seen(decode: () => object): unknown {
  try {
    const h = decode() as Record<string, unknown>;
    const mtime = h.mtime as Date | undefined;
    return {
      cksumValid: h.cksumValid,
      path: h.path,
      mode: h.mode,
      uid: h.uid,
      gid: h.gid,
      mtime: mtime === undefined ? undefined : mtime.getTime(),
      linkpath: h.linkpath,
      uname: h.uname,
      gname: h.gname,
      devmaj: h.devmaj,
      devmin: h.devmin,
    };
  } catch (err) {
    return { threw: (err as Error).message };
  }
}

function assertSame(block: Buffer, what: string): void {
  const npm = seen(() => new (tarHeader())(block));
  const ours = seen(() => decodeHeader(block));
  assert.equal(ours, npm, `${what}: ${block.toString('hex')}`);
}

/** Put a valid checksum in `block` (as a writer would), so the other fields are what differs. */
function sign(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

async function headersOf(entries: TarWriteEntry[]): Promise<Buffer[]> {
  const data = await collect(writeTar(entries));
  const out: Buffer[] = [];
  // Every 512-byte block that is a header (its checksum is valid by npm's codec).
  for (let i = 0; i + 512 <= data.length; i += 512) {
    const block = data.subarray(i, i + 512);
    if (block.some((b) => b !== 0) && new (tarHeader())(block).cksumValid) out.push(Buffer.from(block));
  }
  return out;
}

test('decodeHeader reads what writeTar writes as npm tar does', async () => {
  const blocks = await headersOf([
    { path: 'dir/', type: 'directory', mode: 0o750, uid: 1000, gid: 1001, mtime: new Date('2024-01-02T03:04:05Z') },
    { path: 'dir/file', type: 'file', body: 'hello', mode: 0o4755, uname: 'me', gname: 'us' },
    { path: 'dir/link', type: 'symlink', linkpath: '../elsewhere' },
    { path: 'dev/null', type: 'char-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { path: `${'d'.repeat(120)}/${'n'.repeat(90)}`, type: 'file', body: 'long', uid: 3_000_000 },
    { path: 'naïve/é', type: 'file', body: 'x', uname: 'ü' },
    { path: 'big-uid', type: 'file', body: 'x', uid: 0o77777777 + 1 },
  ]);
  assert.ok(blocks.length >= 7);
  for (const block of blocks) assertSame(block, 'written');
});

test('decodeHeader agrees with npm tar on crafted fields: spaces, NULs, line breaks, non-ASCII, base-256, bad octal', async () => {
  const [base] = await headersOf([{ path: 'file', type: 'file', body: 'x', mode: 0o644, uname: 'u', gname: 'g' }]);
  const fields: Array<[number, number]> = [
    [0, 100],
    [100, 8],
    [108, 8],
    [116, 8],
    [124, 12],
    [136, 12],
    [156, 1],
    [157, 100],
    [257, 8],
    [265, 32],
    [297, 32],
    [329, 8],
    [337, 8],
    [345, 155],
    [475, 1],
    [476, 12],
    [488, 12],
  ];
  const samples = [
    ' 644\0',
    '0000644 ',
    '  17\0\n9',
    '12\n34',
    '\n',
    'a\0b\nc',
    'x\ry\0z',
    '\0\r',
    '9',
    '-7',
    '+7',
    '7x',
    '',
    'ustar\u000000',
    'ustar  \0',
    'name/',
    '\u00e9',
    '\u2028',
    '\t12\v',
  ];
  for (const [start, length] of fields) {
    for (const sample of samples) {
      for (const encoding of ['utf8', 'latin1'] as const) {
        const block = Buffer.from(base!);
        block.fill(0, start, start + length);
        block.write(sample, start, length, encoding);
        assertSame(sign(Buffer.from(block)), `field ${start} = ${JSON.stringify(sample)}`);
        assertSame(block, `field ${start} = ${JSON.stringify(sample)}, unsigned`);
      }
    }
    for (const first of [0x80, 0xff, 0x81]) {
      const block = Buffer.from(base!);
      block[start] = first;
      assertSame(sign(block), `field ${start} starting ${first.toString(16)}`);
    }
  }
});

test('decodeHeader agrees with npm tar on random blocks', async () => {
  const [base] = await headersOf([{ path: 'a/b', type: 'file', body: 'x', uname: 'u', gname: 'g' }]);
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const alphabet = [0, 0x20, 0x30, 0x37, 0x38, 0x0a, 0x0d, 0x2f, 0x61, 0x80, 0xc3, 0xa9, 0xe2, 0xff, 0x09];
  for (let round = 0; round < 3000; round++) {
    const block = Buffer.from(base!);
    const changes = 1 + (random() % 6);
    for (let i = 0; i < changes; i++) block[random() % 512] = alphabet[random() % alphabet.length]!;
    assertSame(round % 2 ? sign(block) : block, `round ${round}`);
  }
});

test.run();
