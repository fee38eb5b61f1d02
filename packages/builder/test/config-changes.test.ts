// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${x} is Dockerfile syntax here, not a template
import { applyConfigChanges, DockerfileError } from '@berth/builder';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { throwsMessage } from './helpers.js';

test('docker commit/import --change: every accepted instruction applied with the Dockerfile rules', () => {
  const config = applyConfigChanges({ Env: ['PATH=/bin'], Cmd: ['sh'] }, [
    'ENV A=1 B="two words"',
    'ENV GREETING hello there',
    'ENV PATH=/opt/bin:$PATH HOME=${HOME:-/root}',
    'CMD ["hello", "world"]',
    'ENTRYPOINT /bin/hello',
    'WORKDIR /srv',
    'WORKDIR app',
    'USER nobody',
    'LABEL org.example.name="my app" other=x',
    'EXPOSE 80 8000-8001/udp',
    'VOLUME ["/data"]',
    'STOPSIGNAL SIGINT',
    'HEALTHCHECK --interval=1m CMD ["/check"]',
    'ONBUILD RUN make',
  ]);
  assert.equal(config.Env, ['PATH=/opt/bin:/bin', 'A=1', 'B=two words', 'GREETING=hello there', 'HOME=/root']);
  assert.equal(config.Cmd, ['hello', 'world'], 'a CMD of the same changes survives ENTRYPOINT');
  assert.equal(config.Entrypoint, ['/bin/sh', '-c', '/bin/hello']);
  assert.is(config.WorkingDir, '/srv/app');
  assert.is(config.User, 'nobody');
  assert.equal(config.Labels, { 'org.example.name': 'my app', other: 'x' });
  assert.equal(config.ExposedPorts, { '80/tcp': {}, '8000/udp': {}, '8001/udp': {} });
  assert.equal(config.Volumes, { '/data': {} });
  assert.is(config.StopSignal, 'SIGINT');
  assert.equal(config.Healthcheck, { Test: ['CMD', '/check'], Interval: 60e9 });
  assert.equal(config.OnBuild, ['RUN make']);
});

test('--change keeps the base ONBUILD triggers without running them; ENTRYPOINT alone drops the CMD', () => {
  const base = { Cmd: ['sh'], OnBuild: ['RUN echo parent'] };
  const config = applyConfigChanges(base, ['ENTRYPOINT ["/init"]']);
  assert.equal([config.OnBuild, config.Cmd, config.Entrypoint], [['RUN echo parent'], null, ['/init']]);
  assert.equal(base.Cmd, ['sh'], 'the base is not changed');
  assert.equal(applyConfigChanges(base, []), base);
});

test('--change refuses what commit cannot do, in Docker words', () => {
  throwsMessage(() => applyConfigChanges({}, ['RUN rm -rf /']), '--change:1: RUN is not a valid change command');
  throwsMessage(() => applyConfigChanges({}, ['ENV A=1', 'FROM x']), '--change:2: FROM is not a valid change command');
  throwsMessage(() => applyConfigChanges({}, ['STOPSIGNAL NOPE']), '--change:1: Invalid signal: NOPE');
  try {
    applyConfigChanges({}, ['COPPY a b']);
    assert.unreachable();
  } catch (err) {
    assert.instance(err, DockerfileError);
    assert.is((err as DockerfileError).problem, 'COPPY is not a valid change command');
  }
});

test.run();
