import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { resolverPids, sleep } from '../e2e/harness';
import { networkObjects, poolSubnet } from '../e2e/network-isolation';
import type { CrashDaemon } from './crash-daemon';
import { crashSuite } from './crash-suite';

/**
 * kill -9 of berthd at the network's write-ahead points, each hit exactly (the kill
 * comes from the handler of the debug line berthd prints there): in the middle of a
 * container's network attach (its endpoint and address recorded, the veth not made), of a
 * network create (its record written, the bridge not made) and of a network remove. After
 * the restart each is undone or finished: no endpoint record, veth, bridge or address is
 * left, and the invariants hold.
 */
const test = crashSuite('network crash');

/** The n-th /24 of the daemon's pool. */

function endpointRecords(d: CrashDaemon): string[] {
  const root = path.join(d.dataRoot, 'networks');
  return readdirSync(root).flatMap((n) => {
    try {
      return readdirSync(path.join(root, n, 'endpoints'));
    } catch {
      return [];
    }
  });
}

async function killDuring(d: CrashDaemon, pattern: RegExp, args: string[]): Promise<void> {
  const fired = d.killOn({ name: String(pattern), pattern }, 20_000);
  const op = d.docker(args);
  const line = await fired;
  assert.ok(line, `berthd never printed ${pattern}:\n${d.logTail(20)}`);
  await d.kill();
  await op; // the CLI sees the connection drop
  await d.start();
}

test('kill -9 in the middle of a start’s network attach: the endpoint and its address are released, no veth is left', async ({
  d,
  checker,
}) => {
  await killDuring(d, /msg="network endpoint recorded"/, ['run', '-d', '--name', 'attach-cut', 'busybox', 'sleep', '3600']);
  const state = (await d.docker(['inspect', '-f', '{{.State.Running}}', 'attach-cut'])).stdout.trim();
  assert.is(state, 'false', 'the start was cut before the process ran');
  assert.equal(endpointRecords(d), []);
  assert.equal(networkObjects(d.network), [d.network.bridge]);
  // The address the cut attach had reserved is the first handed out again.
  const first = poolSubnet(d.network, 0).replace(/0\/24$/, '2');
  const addr = await d.docker(['run', '--rm', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
  assert.is(addr.code, 0, addr.stderr);
  assert.match(addr.stdout, `inet ${first}/24`);
  // The --rm container's endpoint is released in the background, after its removal was
  // reported: its record goes a grace period of the kernel's later, not never.
  for (let i = 0; i < 100 && endpointRecords(d).length > 0; i++) await sleep(50);
  assert.equal(endpointRecords(d), [], "the removed container's endpoint record is released");
  assert.equal(await checker.check({ runImages: 0 }), []);
  await d.docker(['rm', '-f', 'attach-cut']);
});

test('kill -9 in the middle of a network connect of a running container undoes it; in the middle of a disconnect finishes it', async ({
  d,
  checker,
}) => {
  const other = poolSubnet(d.network, 4);
  const created = await d.docker(['network', 'create', '--subnet', other, 'connect-cut']);
  assert.is(created.code, 0, created.stderr);
  const run = await d.docker(['run', '-d', '--name', 'connected', 'busybox', 'sleep', '3600']);
  assert.is(run.code, 0, run.stderr);
  const interfaces = async () => {
    const r = await d.docker(['exec', 'connected', 'ip', '-o', '-4', 'addr', 'show']);
    assert.is(r.code, 0, r.stderr);
    return r.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[1])
      .filter((n) => n && n !== 'lo');
  };
  const networksOf = async () =>
    Object.keys(JSON.parse((await d.docker(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'connected'])).stdout));
  const bridgeOnly = endpointRecords(d).length;

  // Cut with the endpoint recorded (its address reserved), and cut with the veth made but the container's record not yet written: both undone.
  for (const pattern of [/msg="network endpoint recorded"/, /msg="network connect attached"/]) {
    await killDuring(d, pattern, ['network', 'connect', 'connect-cut', 'connected']);
    assert.is((await d.docker(['inspect', '-f', '{{.State.Running}}', 'connected'])).stdout.trim(), 'true');
    assert.equal(await networksOf(), ['bridge'], String(pattern));
    assert.equal(await interfaces(), ['eth0'], String(pattern));
    assert.is(endpointRecords(d).length, bridgeOnly, String(pattern));
    assert.equal(await checker.check({ runImages: 0 }), []);
  }
  // The address the cut connects had reserved is handed out first again.
  const connect = await d.docker(['network', 'connect', 'connect-cut', 'connected']);
  assert.is(connect.code, 0, connect.stderr);
  const onOther = JSON.parse((await d.docker(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'connected'])).stdout)['connect-cut'];
  assert.is(onOther.IPAddress, other.replace(/0\/24$/, '2'));

  // Cut after the container's record lost the network: finished at start.
  await killDuring(d, /msg="network disconnect written ahead"/, ['network', 'disconnect', 'connect-cut', 'connected']);
  assert.equal(await networksOf(), ['bridge']);
  assert.equal(await interfaces(), ['eth0']);
  assert.is(endpointRecords(d).length, bridgeOnly);
  assert.equal(await checker.check({ runImages: 0 }), []);
  await d.docker(['rm', '-f', 'connected']);
  const removed = await d.docker(['network', 'rm', 'connect-cut']);
  assert.is(removed.code, 0, removed.stderr);
});

/**
 * Sockets the process holds in network namespaces other than its own: the socket inodes
 * of its descriptors that its own namespace's tables (/proc/<pid>/net/*) do not list.
 */
function foreignSockets(pid: number): number {
  const own = new Set<string>();
  for (const table of ['udp', 'tcp', 'unix']) {
    const lines = readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      own.add(table === 'unix' ? fields[6]! : fields[9]!);
    }
  }
  let foreign = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && !own.has(m[1]!)) foreign++;
    } catch {}
  }
  return foreign;
}

test('kill -9 in the middle of an attach on a user network: the DNS resolver lets go of the namespace, and answers the next container', async ({
  d,
  checker,
}) => {
  const made = await d.docker(['network', 'create', '--subnet', poolSubnet(d.network, 5), 'dns-cut']);
  assert.is(made.code, 0, made.stderr);
  await killDuring(d, /msg="network endpoint recorded"/, [
    'run',
    '-d',
    '--name',
    'dns-attach-cut',
    '--network',
    'dns-cut',
    'busybox',
    'sleep',
    '3600',
  ]);
  assert.equal(endpointRecords(d), []);
  const resolvers = resolverPids(d.dir);
  assert.is(resolvers.length, 1, 'the resolver outlived berthd and was adopted');
  assert.is(foreignSockets(resolvers[0]!), 0, 'no socket left in the cut container’s namespace');
  const records = JSON.parse(readFileSync(path.join(d.execRoot, 'dns', 'records.json'), 'utf8')) as { sandboxes: unknown[] };
  assert.equal(records.sandboxes, []);
  const run = await d.docker(['run', '-d', '--network', 'dns-cut', '--name', 'dns-next', 'busybox', 'sleep', '3600']);
  assert.is(run.code, 0, run.stderr);
  const found = await d.docker(['exec', 'dns-next', 'nslookup', '-type=a', 'dns-next']);
  assert.match(found.stdout, /Name:\s+dns-next/);
  assert.is(foreignSockets(resolvers[0]!), 2, 'a UDP and a TCP socket in the running container’s namespace');
  await d.docker(['rm', '-f', 'dns-next']);
  assert.is(foreignSockets(resolvers[0]!), 0, 'its sockets closed with the container');
  await d.docker(['rm', '-f', 'dns-attach-cut']);
  assert.is((await d.docker(['network', 'rm', 'dns-cut'])).code, 0);
  assert.equal(await checker.check({ runImages: 0 }), []);
});

test('kill -9 in the middle of a network create undoes it; in the middle of a remove finishes it', async ({ d, checker }) => {
  const cut = poolSubnet(d.network, 3);
  await killDuring(d, /msg="network create written ahead"/, ['network', 'create', '--subnet', cut, 'create-cut']);
  const ls = await d.docker(['network', 'ls', '--format', '{{.Name}}']);
  assert.not.match(ls.stdout, 'create-cut');
  assert.equal(networkObjects(d.network), [d.network.bridge]);
  // The subnet is free again.
  const again = await d.docker(['network', 'create', '--subnet', cut, 'remove-cut']);
  assert.is(again.code, 0, again.stderr);
  const bridge = `br-${again.stdout.trim().slice(0, 12)}`;
  assert.ok(networkObjects(d.network).includes(bridge));
  await killDuring(d, /msg="network removal written ahead"/, ['network', 'rm', 'remove-cut']);
  assert.not.match((await d.docker(['network', 'ls', '--format', '{{.Name}}'])).stdout, 'remove-cut');
  assert.equal(networkObjects(d.network), [d.network.bridge]);
  const rules = execFileSync('nft', ['list', 'table', 'ip', d.network.table], { encoding: 'utf8' });
  assert.not.match(rules, bridge);
  assert.equal(await checker.check({ runImages: 0 }), []);
});

test.run();
