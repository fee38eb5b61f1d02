import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isBerthError } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  allCapabilities,
  capabilitiesFromMask,
  computeCapabilities,
  DEFAULT_CAPABILITIES,
  normalizeCapability,
  readBoundingSet,
} from '../../src/oci/index.js';

// Bit numbers from linux/capability.h, written independently of the source's table.
const bits: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_RESOURCE: 24,
  CAP_MKNOD: 27,
  CAP_AUDIT_WRITE: 29,
  CAP_SETFCAP: 31,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};
const dockerDefaults = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];
const byBit = (caps: string[]) => [...caps].sort((a, b) => (bits[a] as number) - (bits[b] as number));
const maskOf = (caps: string[]) => caps.reduce((m, c) => m | (1n << BigInt(bits[c] as number)), 0n).toString(16);

// A host like this VM: every capability up to 40 except CAP_SYS_RESOURCE.
const host = allCapabilities().filter((c) => c !== 'CAP_SYS_RESOURCE');

test('the capability table is indexed by bit number', () => {
  const all = allCapabilities();
  assert.is(all.length, 41);
  for (const [name, bit] of Object.entries(bits)) assert.is(all[bit], name);
});

test('Docker defaults are the 14 capabilities, ordered by bit', () => {
  assert.equal([...DEFAULT_CAPABILITIES], byBit(dockerDefaults));
});

test('normalizeCapability accepts case and prefix variants', () => {
  assert.is(normalizeCapability('chown'), 'CAP_CHOWN');
  assert.is(normalizeCapability('cap_chown'), 'CAP_CHOWN');
  assert.is(normalizeCapability(' Net_Admin '), 'CAP_NET_ADMIN');
  assert.is(normalizeCapability('CAP_SYS_ADMIN'), 'CAP_SYS_ADMIN');
  assert.is(normalizeCapability('all'), 'ALL');
  assert.throws(
    () => normalizeCapability('foo'),
    (e: Error) => isBerthError(e, 'InvalidArgument') && e.message === 'unknown capability: "CAP_FOO"',
  );
  assert.throws(
    () => normalizeCapability('CAP_FOO'),
    (e: Error) => e.message === 'unknown capability: "CAP_FOO"',
  );
});

test('capabilitiesFromMask decodes CapBnd-style hex', () => {
  assert.equal(capabilitiesFromMask(maskOf(dockerDefaults).padStart(16, '0')), byBit(dockerDefaults));
  const vm = capabilitiesFromMask('000001fffeffffff');
  assert.is(vm.length, 40);
  assert.not.ok(vm.includes('CAP_SYS_RESOURCE'));
  // Bits above 40 (a newer kernel's) are ignored, not invented.
  assert.is(capabilitiesFromMask('ffffffffffffffff').length, 41);
});

test('readBoundingSet reads the CapBnd line', () => {
  const dir = mkdtempSync('/tmp/berth-unit-spec-caps-');
  try {
    const file = path.join(dir, 'status');
    writeFileSync(file, `Name:\tx\nCapEff:\t0000000000000000\nCapBnd:\t${maskOf(['CAP_CHOWN', 'CAP_KILL']).padStart(16, '0')}\n`);
    assert.equal(readBoundingSet(file), ['CAP_CHOWN', 'CAP_KILL']);
    writeFileSync(file, 'Name:\tx\n');
    assert.throws(() => readBoundingSet(file), /no CapBnd/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readBoundingSet of this process matches /proc/self/status', () => {
  const caps = readBoundingSet();
  assert.ok(caps.length > 0);
  assert.ok(caps.every((c) => allCapabilities().includes(c)));
});

test('computeCapabilities: nothing asked → Docker defaults', () => {
  assert.equal(computeCapabilities({ hostBoundingSet: host }), byBit(dockerDefaults));
});

test('computeCapabilities: drop and add', () => {
  const caps = computeCapabilities({ capAdd: ['sys_admin', 'NET_ADMIN'], capDrop: ['net_raw', 'CAP_MKNOD'], hostBoundingSet: host });
  const expected = byBit([...dockerDefaults.filter((c) => c !== 'CAP_NET_RAW' && c !== 'CAP_MKNOD'), 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN']);
  assert.equal(caps, expected);
});

test('computeCapabilities: adding a default twice does not duplicate it', () => {
  assert.equal(computeCapabilities({ capAdd: ['chown', 'CAP_CHOWN'], hostBoundingSet: host }), byBit(dockerDefaults));
});

test('computeCapabilities: ALL', () => {
  assert.equal(computeCapabilities({ capDrop: ['all'], capAdd: ['kill', 'chown'], hostBoundingSet: host }), ['CAP_CHOWN', 'CAP_KILL']);
  const addAll = computeCapabilities({ capAdd: ['ALL'], capDrop: ['MKNOD'], hostBoundingSet: host });
  assert.equal(
    addAll,
    host.filter((c) => c !== 'CAP_MKNOD'),
  );
  assert.not.ok(addAll.includes('CAP_SYS_RESOURCE'), 'ALL never exceeds the host bounding set');
});

test('computeCapabilities: privileged = the host bounding set, adds and drops ignored', () => {
  assert.equal(computeCapabilities({ privileged: true, capDrop: ['ALL'], hostBoundingSet: host }), host);
  const small = ['CAP_KILL', 'CAP_CHOWN'];
  assert.equal(computeCapabilities({ privileged: true, hostBoundingSet: small }), ['CAP_CHOWN', 'CAP_KILL']);
});

test('computeCapabilities: a capability the host lacks is an error when named, left out otherwise', () => {
  assert.throws(
    () => computeCapabilities({ capAdd: ['SYS_RESOURCE'], hostBoundingSet: host }),
    (e: Error) => isBerthError(e, 'InvalidArgument') && /CAP_SYS_RESOURCE is not in this host's bounding set/.test(e.message),
  );
  const noMknod = host.filter((c) => c !== 'CAP_MKNOD');
  assert.equal(computeCapabilities({ hostBoundingSet: noMknod }), byBit(dockerDefaults.filter((c) => c !== 'CAP_MKNOD')));
});

test('computeCapabilities: unknown names fail with the normalised name', () => {
  assert.throws(
    () => computeCapabilities({ capAdd: ['foo'], hostBoundingSet: host }),
    (e: Error) => e.message === 'unknown capability: "CAP_FOO"',
  );
  assert.throws(
    () => computeCapabilities({ capDrop: ['cap_bar'], hostBoundingSet: host }),
    (e: Error) => e.message === 'unknown capability: "CAP_BAR"',
  );
});

test.run();
