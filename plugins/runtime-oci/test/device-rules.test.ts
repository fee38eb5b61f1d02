import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { extraDeviceDenials } from '../src/device-rules.js';

const docker = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
];

test("what the bundle's allow rules cover stays; the rest is denied, as devices.deny lines", () => {
  const list = 'c *:* m\nc 1:3 rwm\nc 5:1 rwm\nc 136:* rwm\nb *:* m\n';
  assert.equal(extraDeviceDenials(list, docker), ['c 5:1 rwm', 'b *:* m']);
});

test('a rule naming one device does not cover a wildcard, nor fewer access rights more', () => {
  assert.equal(extraDeviceDenials('c 1:* rwm\nc 1:3 rw\n', [{ allow: true, type: 'c', major: 1, minor: 3, access: 'r' }]), [
    'c 1:* rwm',
    'c 1:3 rw',
  ]);
  assert.equal(extraDeviceDenials('c 1:3 r\n', [{ allow: true, type: 'a', access: 'rwm' }]), []);
});

test('an unrestricted cgroup (a *:* rwm, as --privileged) and an empty list need nothing', () => {
  assert.equal(extraDeviceDenials('a *:* rwm\n', []), []);
  assert.equal(extraDeviceDenials('', docker), []);
});

test.run();
