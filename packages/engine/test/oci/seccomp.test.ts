import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isBerthError } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  allCapabilities,
  convertDockerSeccomp,
  DEFAULT_CAPABILITIES,
  defaultSeccompProfile,
  loadDockerSeccomp,
  seccompArchitectures,
} from '../../src/oci/index.js';
import { allowed, verdict } from './seccomp-eval.js';

const x86 = (caps: readonly string[], kernelVersion: [number, number] = [6, 1]) =>
  defaultSeccompProfile({ capabilities: caps, arch: 'x86_64', kernelVersion });
const everything = allCapabilities();

// clone(2) flags, from linux/sched.h.
const CLONE_VM = 0x100,
  CLONE_FS = 0x200,
  CLONE_FILES = 0x400,
  CLONE_SIGHAND = 0x800,
  CLONE_THREAD = 0x10000;
const CLONE_SYSVSEM = 0x40000,
  CLONE_SETTLS = 0x80000,
  CLONE_PARENT_SETTID = 0x100000,
  CLONE_CHILD_CLEARTID = 0x200000;
const SIGCHLD = 17;
const CLONE_NEWNS = 0x20000,
  CLONE_NEWUSER = 0x10000000,
  CLONE_NEWNET = 0x40000000,
  CLONE_NEWPID = 0x20000000,
  CLONE_NEWCGROUP = 0x02000000;
const pthreadFlags =
  CLONE_VM |
  CLONE_FS |
  CLONE_FILES |
  CLONE_SIGHAND |
  CLONE_THREAD |
  CLONE_SYSVSEM |
  CLONE_SETTLS |
  CLONE_PARENT_SETTID |
  CLONE_CHILD_CLEARTID;

test('default: errno EPERM for anything not allowed; architectures of the host', () => {
  const p = x86(DEFAULT_CAPABILITIES);
  assert.is(p.defaultAction, 'SCMP_ACT_ERRNO');
  assert.is(p.defaultErrnoRet, 1);
  assert.equal(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  assert.equal(seccompArchitectures('aarch64'), ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.equal(seccompArchitectures('arm64'), ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.equal(seccompArchitectures('riscv64'), []);
  assert.equal(verdict(p, 'no_such_call'), { action: 'SCMP_ACT_ERRNO', errno: 1 });
});

test('default: ordinary programs work', () => {
  const p = x86(DEFAULT_CAPABILITIES);
  for (const name of [
    'read',
    'write',
    'openat',
    'execve',
    'exit_group',
    'futex',
    'mmap',
    'socket',
    'connect',
    'epoll_wait',
    'getrandom',
    'rt_sigaction',
    'chroot',
    'arch_prctl',
    'wait4',
    'setuid',
    'statx',
  ]) {
    assert.ok(allowed(p, name), `${name} should be allowed`);
  }
});

test('default: never allowed, whatever the capabilities', () => {
  const p = x86(everything);
  for (const name of [
    'keyctl',
    'add_key',
    'request_key',
    'kexec_load',
    'kexec_file_load',
    'io_uring_setup',
    'io_uring_enter',
    'uselib',
    'nfsservctl',
    'swapon',
  ]) {
    assert.equal(verdict(p, name), { action: 'SCMP_ACT_ERRNO', errno: 1 }, `${name} must be blocked even with every capability`);
  }
});

// From the brief: each gated call and the capability that opens it.
const gated: Array<[string, string]> = [
  ['mount', 'CAP_SYS_ADMIN'],
  ['umount2', 'CAP_SYS_ADMIN'],
  ['unshare', 'CAP_SYS_ADMIN'],
  ['setns', 'CAP_SYS_ADMIN'],
  ['pivot_root', 'CAP_SYS_ADMIN'],
  ['sethostname', 'CAP_SYS_ADMIN'],
  ['fsopen', 'CAP_SYS_ADMIN'],
  ['bpf', 'CAP_SYS_ADMIN'],
  ['bpf', 'CAP_BPF'],
  ['perf_event_open', 'CAP_PERFMON'],
  ['syslog', 'CAP_SYSLOG'],
  ['reboot', 'CAP_SYS_BOOT'],
  ['init_module', 'CAP_SYS_MODULE'],
  ['finit_module', 'CAP_SYS_MODULE'],
  ['delete_module', 'CAP_SYS_MODULE'],
  ['clock_settime', 'CAP_SYS_TIME'],
  ['settimeofday', 'CAP_SYS_TIME'],
  ['acct', 'CAP_SYS_PACCT'],
  ['open_by_handle_at', 'CAP_DAC_READ_SEARCH'],
  ['userfaultfd', 'CAP_SYS_PTRACE'],
  ['kcmp', 'CAP_SYS_PTRACE'],
  ['iopl', 'CAP_SYS_RAWIO'],
  ['vhangup', 'CAP_SYS_TTY_CONFIG'],
  ['mbind', 'CAP_SYS_NICE'],
  ['chroot', 'CAP_SYS_CHROOT'],
];

test('default: capability-gated calls are blocked without their capability and allowed with it', () => {
  const none = x86([]);
  for (const [name, cap] of gated) {
    assert.equal(verdict(none, name), { action: 'SCMP_ACT_ERRNO', errno: 1 }, `${name} without ${cap}`);
    assert.ok(allowed(x86([cap]), name), `${name} with ${cap}`);
  }
  const defaults = x86(DEFAULT_CAPABILITIES);
  for (const [name, cap] of gated) {
    if (!DEFAULT_CAPABILITIES.includes(cap)) assert.not.ok(allowed(defaults, name), `${name} with the defaults`);
  }
});

test('default: ptrace allowed from kernel 4.8, before that only with CAP_SYS_PTRACE', () => {
  assert.ok(allowed(x86(DEFAULT_CAPABILITIES, [6, 1]), 'ptrace'));
  assert.ok(allowed(x86(DEFAULT_CAPABILITIES, [4, 8]), 'process_vm_readv'));
  assert.not.ok(allowed(x86(DEFAULT_CAPABILITIES, [4, 4]), 'ptrace'));
  assert.ok(allowed(x86(['CAP_SYS_PTRACE'], [4, 4]), 'ptrace'));
});

test('default: clone may make threads and processes but no namespaces without CAP_SYS_ADMIN', () => {
  const p = x86(DEFAULT_CAPABILITIES);
  assert.ok(allowed(p, 'clone', [pthreadFlags]));
  assert.ok(allowed(p, 'clone', [SIGCHLD]));
  for (const ns of [CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWCGROUP]) {
    assert.not.ok(allowed(p, 'clone', [SIGCHLD | ns]), `clone with 0x${ns.toString(16)}`);
  }
  // clone3 hides its flags in memory: ENOSYS, so libc falls back to clone.
  assert.equal(verdict(p, 'clone3'), { action: 'SCMP_ACT_ERRNO', errno: 38 });
  const admin = x86([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']);
  assert.ok(allowed(admin, 'clone', [SIGCHLD | CLONE_NEWUSER]));
  assert.ok(allowed(admin, 'clone3'));
});

test('default: personality only with the safe values', () => {
  const p = x86(DEFAULT_CAPABILITIES);
  for (const v of [0x0, 0x8, 0x20000, 0x20008, 0xffffffff]) assert.ok(allowed(p, 'personality', [v]), `0x${v.toString(16)}`);
  const ADDR_NO_RANDOMIZE = 0x0040000;
  const READ_IMPLIES_EXEC = 0x0400000;
  assert.not.ok(allowed(p, 'personality', [ADDR_NO_RANDOMIZE]));
  assert.not.ok(allowed(p, 'personality', [READ_IMPLIES_EXEC]));
});

test('default: architecture-specific calls follow the host', () => {
  const arm = defaultSeccompProfile({ capabilities: DEFAULT_CAPABILITIES, arch: 'aarch64' });
  assert.ok(allowed(arm, 'set_tls'));
  assert.not.ok(allowed(arm, 'arch_prctl'));
  assert.not.ok(allowed(x86(DEFAULT_CAPABILITIES), 'set_tls'));
});

test('default: no syscall is both allowed unconditionally and filtered', () => {
  const p = x86(DEFAULT_CAPABILITIES);
  const plain = new Set(p.syscalls.filter((s) => !s.args && s.action === 'SCMP_ACT_ALLOW').flatMap((s) => s.names));
  for (const s of p.syscalls.filter((r) => r.args || r.action !== 'SCMP_ACT_ALLOW')) {
    for (const n of s.names) assert.not.ok(plain.has(n), `${n} appears in both`);
  }
});

// ---- Docker's profile format ----

const target = { capabilities: DEFAULT_CAPABILITIES, arch: 'x86_64', kernelVersion: [6, 1] as [number, number] };
const profile = (o: object) => JSON.stringify(o);

test('docker format: archMap picks the host architecture with its sub-architectures', () => {
  const text = profile({
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }],
  });
  const x = convertDockerSeccomp(text, 'p.json', target);
  assert.equal(x.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.is(x.defaultErrnoRet, 1);
  assert.equal(x.syscalls, [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }]);
  const a = convertDockerSeccomp(text, 'p.json', { ...target, arch: 'aarch64' });
  assert.equal(a.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
});

test('docker format: name, args, errnoRet and includes/excludes', () => {
  const text = profile({
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { name: 'mkdir', action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', excludes: { caps: ['CAP_KILL'] } },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } },
      { names: ['set_tls'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
      { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
      { names: ['futex'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '9.0' } },
    ],
  });
  const x = convertDockerSeccomp(text, 'p.json', target);
  const names = x.syscalls.map((s) => s.names[0]);
  assert.equal(names, ['mkdir', 'personality', 'arch_prctl', 'ptrace']);
  assert.equal(x.syscalls[0], { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 });
  assert.equal(x.syscalls[1]?.args, [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }]);
  const admin = convertDockerSeccomp(text, 'p.json', { ...target, capabilities: ['CAP_SYS_ADMIN'] });
  assert.ok(admin.syscalls.some((s) => s.names[0] === 'mount'));
  assert.ok(
    admin.syscalls.some((s) => s.names[0] === 'kill'),
    'kill rule kept when CAP_KILL is absent',
  );
});

test('docker format: errors name the profile and the problem', () => {
  const bad = (text: string, re: RegExp) =>
    assert.throws(
      () => convertDockerSeccomp(text, '/etc/p.json', target),
      (e: Error) => isBerthError(e, 'InvalidArgument') && e.message.startsWith('seccomp profile /etc/p.json: ') && re.test(e.message),
      text,
    );
  bad('{nope', /not valid JSON/);
  bad('[]', /must be a JSON object/);
  bad(profile({ defaultAction: 'SCMP_ACT_MAYBE' }), /defaultAction: unknown action "SCMP_ACT_MAYBE"/);
  bad(
    profile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] }),
    /syscalls\[0\]: "name" and "names" were both given/,
  );
  bad(profile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW' }] }), /syscalls\[0\]: no "names"/);
  bad(
    profile({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ABOUT' }] }],
    }),
    /args\[0\]: unknown operator "SCMP_CMP_ABOUT"/,
  );
  bad(
    profile({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_Z80'] }),
    /architectures\[0\]: unknown architecture "SCMP_ARCH_Z80"/,
  );
  bad(
    profile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_NOTIFY' }] }),
    /SCMP_ACT_NOTIFY is not supported/,
  );
  bad(
    profile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['Read Me'], action: 'SCMP_ACT_ALLOW' }] }),
    /invalid syscall name "Read Me"/,
  );
});

test('docker format: loadDockerSeccomp takes unconfined, inline JSON, or a file', () => {
  assert.is(loadDockerSeccomp('unconfined', target), undefined);
  const text = profile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
  assert.equal(loadDockerSeccomp(text, target)?.syscalls, [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }]);
  assert.throws(
    () => loadDockerSeccomp('{x', target),
    (e: Error) => e.message.startsWith('seccomp profile inline profile: not valid JSON'),
  );
  const dir = mkdtempSync('/tmp/berth-unit-spec-seccomp-');
  try {
    const file = path.join(dir, 'profile.json');
    writeFileSync(file, text);
    assert.is(loadDockerSeccomp(file, target)?.defaultAction, 'SCMP_ACT_ALLOW');
    // A file that is not JSON: the error must not echo its content back to the client.
    const secret = path.join(dir, 'secret');
    writeFileSync(secret, 'root:$6$supersecrethash:19000:0:99999:7:::\n');
    assert.throws(
      () => loadDockerSeccomp(secret, target),
      (e: Error) => e.message.startsWith(`seccomp profile ${secret}: not valid JSON`) && !e.message.includes('supersecret'),
    );
    assert.throws(() => loadDockerSeccomp('relative.json', target), /expected JSON, "unconfined", or an absolute path/);
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    assert.throws(
      () => loadDockerSeccomp(fifo, target),
      (e: Error) => e.message === `seccomp profile ${fifo}: cannot read it: not a regular file`,
    );
    const missing = path.join(dir, 'missing.json');
    assert.throws(
      () => loadDockerSeccomp(missing, target),
      (e: Error) => isBerthError(e, 'InvalidArgument') && e.message.startsWith(`seccomp profile ${missing}: cannot read it`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
