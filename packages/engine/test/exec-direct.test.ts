import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import none from '@berth/network-none';
import runc, { crunPlugin } from '@berth/runtime-oci';
import overlay from '@berth/storage-overlay';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ContainerPathsToken, createEngine, type Engine } from '../src/index.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';

// ExecService through crun, the default runtime when it is there: execs run without a
// runtime process (runtime-oci's direct exec, with crun's compiled seccomp program), in a
// container made as the engine makes them (Docker's seccomp profile and capabilities).

const busybox = path.resolve(__dirname, '../../../test/fixtures/.cache/busybox.tar');

interface Ctx {
  dir: string;
  engine: Engine;
  container: string;
}

const test = suite<Ctx>('exec without a runtime process');

test.before(async (ctx) => {
  ctx.dir = mkdtempSync('/tmp/berth-unit-execd-');
  ctx.engine = await createEngine({
    dataRoot: path.join(ctx.dir, 'data'),
    execRoot: path.join(ctx.dir, 'exec'),
    cgroupParent: `berth-unit-${path.basename(ctx.dir).slice(-6)}`,
    plugins: [overlay, runc, crunPlugin, none],
  });
  await ctx.engine.images.load(createReadStream(busybox));
  ctx.container = (await ctx.engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { Runtime: 'crun' } })).Id;
  await ctx.engine.containers.start(ctx.container);
});

test.after(async ({ dir, engine }) => {
  for (const c of await engine.containers.list({ all: true })) await engine.containers.remove(c.Id, { force: true });
  await engine.close();
  removeAndAssertNoMounts(dir);
});

/** Run an exec attached to its end: its output, its inspect once the stream ended. */
async function execRun(engine: Engine, container: string, body: Parameters<Engine['execs']['create']>[1]) {
  const { Id } = await engine.execs.create(container, { AttachStdout: true, AttachStderr: true, ...body });
  const session = await engine.execs.start(Id, { detach: false });
  assert.ok(session);
  const out: string[] = [];
  session.onOutput((_stream, data) => out.push(String(data)));
  await session.ended;
  return { id: Id, out: out.join(''), inspect: await engine.execs.inspect(Id) };
}

const securityLines = (text: string) =>
  text.split('\n').filter((l) => /^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp(_filters)?):/.test(l));

test("-u -w -e: the exec has the init's security settings, its own user, cwd and env; no runtime process", async ({
  engine,
  container,
}) => {
  const { Pid } = (await engine.containers.inspect(container)).State;
  const r = await execRun(engine, container, {
    Cmd: ['sh', '-c', 'echo $FOO $(pwd) $(id -u):$(id -g); cat /proc/self/status'],
    User: '1000:1001',
    WorkingDir: '/tmp',
    Env: ['FOO=bar'],
  });
  assert.is(r.inspect.ExitCode, 0, r.out);
  assert.ok(r.out.startsWith('bar /tmp 1000:1001\n'), r.out);
  const init = securityLines(readFileSync(`/proc/${Pid}/status`, 'utf8'));
  const own = securityLines(r.out);
  // A non-root user keeps the bounding set and no_new_privs and seccomp, and loses its effective set (as runc does).
  assert.equal(
    own.filter((l) => !/^Cap(Prm|Eff)/.test(l)),
    init.filter((l) => !/^Cap(Prm|Eff)/.test(l)),
  );
  assert.ok(own.includes('Seccomp:\t2') && own.includes('NoNewPrivs:\t1'), own.join(' '));
  const root = await execRun(engine, container, { Cmd: ['cat', '/proc/self/status'] });
  assert.equal(securityLines(root.out), init, 'as root: exactly the init');
  // A running exec's state dir holds a plan for the shim, no process for crun.
  const paths = engine.di.resolve(ContainerPathsToken);
  const { Id } = await engine.execs.create(container, { Cmd: ['sleep', '1'] });
  await engine.execs.start(Id, { detach: true });
  const files = readdirSync(paths.execStateDir(container, Id));
  assert.ok(files.includes('plan') && !files.includes('process.json'), files.join(' '));
  for (let i = 0; i < 100 && (await engine.execs.inspect(Id)).Running; i++) await new Promise((t) => setTimeout(t, 20));
  // Every exec's state goes once it has exited.
  const execs = path.dirname(paths.execStateDir(container, r.id));
  for (let i = 0; i < 100 && existsSync(execs) && readdirSync(execs).length > 0; i++) await new Promise((t) => setTimeout(t, 20));
  assert.equal(existsSync(execs) ? readdirSync(execs) : [], [], 'no exec state left');
});

test("a command not found is 127, one that cannot be executed 126, with runc's messages", async ({ engine, container }) => {
  const missing = await execRun(engine, container, { Cmd: ['nosuchcmd'] });
  assert.is(missing.inspect.ExitCode, 127);
  assert.match(missing.out, /exec: "nosuchcmd": executable file not found in \$PATH/);
  const denied = await execRun(engine, container, { Cmd: ['/etc'] });
  assert.is(denied.inspect.ExitCode, 126);
  assert.match(denied.out, /exec: "\/etc": permission denied/);
});

test.run();
