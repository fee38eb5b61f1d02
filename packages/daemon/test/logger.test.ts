import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from '../src/index.js';

test('text lines in logrus style, filtered by level, with child fields', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', format: 'text', write: (l) => lines.push(l) });
  log.debug('hidden');
  log.info('listening', { socket: '/run/berth/berth.sock' });
  log.child({ component: 'api' }).warn('slow client', { detail: 'two words' });
  assert.is(lines.length, 2);
  assert.match(lines[0]!, /^time="\d{4}-\d\d-\d\dT[\d:.]+Z" level=info msg="listening" socket=\/run\/berth\/berth\.sock\n$/);
  assert.match(lines[1]!, /level=warn msg="slow client" component=api detail="two words"\n$/);
});

test('json lines', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'error', format: 'json', write: (l) => lines.push(l) });
  log.warn('dropped');
  log.error('boom', { code: 3, err: new Error('inner') });
  assert.is(lines.length, 1);
  const rec = JSON.parse(lines[0]!);
  assert.is(rec.level, 'error');
  assert.is(rec.msg, 'boom');
  assert.is(rec.code, 3);
  assert.is(rec.err, 'inner');
  assert.ok(!Number.isNaN(Date.parse(rec.time)));
});

test.run();
