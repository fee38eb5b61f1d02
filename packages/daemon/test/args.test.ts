import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseDaemonArgs, usage } from '../src/index.js';

test('long flags with a space or =, repeatable -H', () => {
  const p = parseDaemonArgs([
    '--host',
    'unix:///a.sock',
    '-H=unix:///b.sock',
    '-Hunix:///c.sock',
    '--data-root=/d',
    '--exec-root',
    '/e',
    '--storage-driver',
    'vfs',
    '--default-runtime=crun',
    '--cgroup-parent',
    'cg',
    '--log-level',
    'debug',
    '--log-format=json',
    '--pidfile',
    '/p.pid',
    '--config-file',
    '/etc/x.json',
  ]);
  assert.equal(p.settings, {
    hosts: ['unix:///a.sock', 'unix:///b.sock', 'unix:///c.sock'],
    'data-root': '/d',
    'exec-root': '/e',
    'storage-driver': 'vfs',
    'default-runtime': 'crun',
    'cgroup-parent': 'cg',
    'log-level': 'debug',
    'log-format': 'json',
    pidfile: '/p.pid',
  });
  assert.is(p.configFile, '/etc/x.json');
  assert.is(p.help, false);
});

test('short flags and bundled booleans', () => {
  assert.equal(parseDaemonArgs(['-D', '-s', 'overlay', '-l', 'warn']).settings, {
    debug: true,
    'storage-driver': 'overlay',
    'log-level': 'warn',
  });
  assert.equal(parseDaemonArgs(['-DH', 'unix:///x']).settings, { debug: true, hosts: ['unix:///x'] });
  assert.equal(parseDaemonArgs(['--debug=false']).settings, { debug: false });
  assert.is(parseDaemonArgs(['-h']).help, true);
  assert.is(parseDaemonArgs(['--version']).version, true);
  assert.equal(parseDaemonArgs([]).settings, {});
});

test('mistakes are clear usage errors', () => {
  assert.throws(() => parseDaemonArgs(['--bogus']), /^UsageError: unknown flag: --bogus$|unknown flag: --bogus/);
  assert.throws(() => parseDaemonArgs(['-x']), /unknown shorthand flag: 'x' in -x/);
  assert.throws(() => parseDaemonArgs(['--data-root']), /flag needs an argument: --data-root/);
  assert.throws(() => parseDaemonArgs(['-H']), /flag needs an argument: 'H' in -H/);
  assert.throws(() => parseDaemonArgs(['--debug=maybe']), /invalid argument "maybe" for "--debug"/);
  assert.throws(() => parseDaemonArgs(['serve']), /berthd takes no arguments, got "serve"/);
  assert.throws(() => parseDaemonArgs(['--data-root=']), /needs a non-empty value/);
});

test('usage lists every flag', () => {
  const u = usage();
  for (const f of [
    '--host',
    '--data-root',
    '--exec-root',
    '--storage-driver',
    '--default-runtime',
    '--config-file',
    '--log-level',
    '--cgroup-parent',
    '--pidfile',
  ]) {
    assert.ok(u.includes(f), f);
  }
});

test.run();
