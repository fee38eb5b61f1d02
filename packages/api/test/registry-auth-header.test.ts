import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeRegistryAuthHeader } from '../src/index.js';

const encode = (value: unknown, alphabet: 'base64' | 'base64url' = 'base64url') => Buffer.from(JSON.stringify(value)).toString(alphabet);

test('X-Registry-Auth: base64url or base64 JSON, as the docker CLI and docker-py send it', () => {
  const auth = { username: 'trc', password: 'p/w+?', serveraddress: '127.0.0.1:5000' };
  assert.equal(decodeRegistryAuthHeader(encode(auth)), auth);
  assert.equal(decodeRegistryAuthHeader(encode(auth, 'base64')), auth);
  assert.equal(decodeRegistryAuthHeader(encode({ identitytoken: 'tok' })), { identitytoken: 'tok' });
  // Older clients capitalise, and some send `auth` (base64 user:password) alone.
  assert.equal(decodeRegistryAuthHeader(encode({ Username: 'a', Password: 'b' })), { username: 'a', password: 'b' });
  assert.equal(decodeRegistryAuthHeader(encode({ auth: Buffer.from('u:p:q').toString('base64') })), { username: 'u', password: 'p:q' });
});

test('X-Registry-Auth: absent, empty and {} (e30=, "not logged in") mean no credentials; garbage is refused by name', () => {
  assert.is(decodeRegistryAuthHeader(undefined), undefined);
  assert.is(decodeRegistryAuthHeader(''), undefined);
  assert.is(decodeRegistryAuthHeader('e30='), undefined);
  assert.throws(() => decodeRegistryAuthHeader('!!!'), /invalid X-Registry-Auth header: not base64-encoded JSON/);
  assert.throws(() => decodeRegistryAuthHeader(encode([1])), /invalid X-Registry-Auth header: expected a JSON object/);
  assert.throws(() => decodeRegistryAuthHeader(encode({ username: 5 })), /username must be a string/);
});

test.run();
