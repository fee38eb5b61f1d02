import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FlagSpec } from '../src/argv.js';
import { portLines } from '../src/commands/port.js';
import { CONTAINER_FLAGS, parsePublish } from '../src/container-options.js';

test('-p: every form of [ip:][hostPort[-end]:]containerPort[/proto], as the docker CLI sends it', () => {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp?: string; HostPort?: string }>> = {};
  parsePublish(
    ['80', '8080:81', '127.0.0.1::82', '127.0.0.1:8083:83/udp', '9000-9001:90-91', '7000-7010:92', '[::1]:6000:93'],
    exposed,
    bindings,
  );
  assert.equal(bindings, {
    '80/tcp': [{ HostIp: '', HostPort: '' }],
    '81/tcp': [{ HostIp: '', HostPort: '8080' }],
    '82/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
    '83/udp': [{ HostIp: '127.0.0.1', HostPort: '8083' }],
    '90/tcp': [{ HostIp: '', HostPort: '9000' }],
    '91/tcp': [{ HostIp: '', HostPort: '9001' }],
    // A host range with one container port goes as it is: the daemon takes its first free port.
    '92/tcp': [{ HostIp: '', HostPort: '7000-7010' }],
    '93/tcp': [{ HostIp: '::1', HostPort: '6000' }],
  });
  assert.equal(Object.keys(exposed).sort(), Object.keys(bindings).sort());
  for (const [bad, message] of [
    ['80/icmp', 'invalid proto: icmp'],
    ['8080:', 'no port specified'],
    ['9000-9002:90-91', 'invalid ranges specified'],
    ['x:80', 'invalid hostPort: x'],
    ['70000', 'invalid containerPort: 70000'],
  ]) {
    assert.throws(
      () => parsePublish([bad!], {}, {}),
      (err: Error) => err.message.includes(message!),
      bad,
    );
  }
});

test('-P is a flag of run and create (PublishAllPorts)', () => {
  const flag = CONTAINER_FLAGS.find((f: FlagSpec) => f.long === 'publish-all');
  assert.equal([flag?.short, flag?.kind], ['P', 'bool']);
});

test('port: docker port’s lines, all bindings in port order or one port’s addresses; undefined for a port not published', () => {
  const ports = {
    '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '32769' }],
    '80/tcp': [
      { HostIp: '0.0.0.0', HostPort: '32768' },
      { HostIp: '0.0.0.0', HostPort: '8000' },
    ],
    '53/udp': [{ HostIp: '0.0.0.0', HostPort: '5353' }],
    '443/tcp': null,
  };
  assert.equal(portLines(ports), [
    '53/udp -> 0.0.0.0:5353',
    '80/tcp -> 0.0.0.0:32768',
    '80/tcp -> 0.0.0.0:8000',
    '8080/tcp -> 127.0.0.1:32769',
  ]);
  assert.equal(portLines(ports, '80'), ['0.0.0.0:32768', '0.0.0.0:8000']);
  assert.equal(portLines(ports, '53/udp'), ['0.0.0.0:5353']);
  assert.is(portLines(ports, '443'), undefined);
  assert.is(portLines(ports, '53'), undefined, '53 means 53/tcp');
  assert.equal(portLines({}), []);
});

test.run();
