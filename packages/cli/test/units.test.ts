import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesSize, formatG, humanDuration, humanSize, parseNanoCpus, ramInBytes } from '../src/format/units.js';

test('sizes are decimal with 3 significant digits, like docker images', () => {
  assert.is(humanSize(1984172), '1.98MB');
  assert.is(humanSize(0), '0B');
  assert.is(humanSize(999), '999B');
  assert.is(humanSize(1000), '1kB');
  assert.is(humanSize(5600), '5.6kB');
  assert.is(humanSize(123_456_789), '123MB');
  assert.is(humanSize(4_800_000_000), '4.8GB');
  assert.is(humanSize(999_500), '1e+03kB', "Go's %.3g switches to an exponent when rounding reaches 1000");
  assert.is(humanSize(1984172, 4), '1.984MB');
});

test("formatG is Go's %g", () => {
  assert.is(formatG(1.5, 3), '1.5');
  assert.is(formatG(100, 3), '100');
  assert.is(formatG(0.0001234, 3), '0.000123');
  assert.is(formatG(0.00001234, 3), '1.23e-05');
  assert.is(formatG(123456, 3), '1.23e+05');
});

test('memory in binary units with 4 digits, like docker info', () => {
  assert.is(bytesSize(25276063744), '23.54GiB');
  assert.is(bytesSize(1024), '1KiB');
  assert.is(bytesSize(512), '512B');
});

test('durations read like docker ps', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  const cases: Array<[number, string]> = [
    [0, 'Less than a second'],
    [999, 'Less than a second'],
    [-5 * s, 'Less than a second'],
    [1 * s, '1 second'],
    [5 * s, '5 seconds'],
    [59 * s + 999, '59 seconds'],
    [60 * s, 'About a minute'],
    [119 * s, 'About a minute'],
    [2 * m, '2 minutes'],
    [59 * m, '59 minutes'],
    [60 * m, 'About an hour'],
    [89 * m, 'About an hour'],
    [90 * m, '2 hours'],
    [47 * h, '47 hours'],
    [48 * h, '2 days'],
    [13 * d, '13 days'],
    [14 * d, '2 weeks'],
    [59 * d, '8 weeks'],
    [60 * d, '2 months'],
    [729 * d, '24 months'],
    [730 * d, '2 years'],
  ];
  for (const [ms, text] of cases) assert.is(humanDuration(ms), text, `${ms} ms`);
});

test('--memory values parse with binary units; bad ones say so', () => {
  assert.is(ramInBytes('64m'), 67108864);
  assert.is(ramInBytes('64M'), 67108864);
  assert.is(ramInBytes('1.5g'), 1610612736);
  assert.is(ramInBytes('512k'), 524288);
  assert.is(ramInBytes('1GiB'), 1073741824);
  assert.is(ramInBytes('100'), 100);
  assert.is(ramInBytes('10 mb'), 10485760);
  assert.throws(() => ramInBytes('abc'), /invalid size: 'abc'/);
  assert.throws(() => ramInBytes('1.2.3'), /invalid size/);
  assert.throws(() => ramInBytes('-1'), /invalid size/);
});

test('--cpus becomes nano-CPUs exactly', () => {
  assert.is(parseNanoCpus('1.5'), 1_500_000_000);
  assert.is(parseNanoCpus('2'), 2_000_000_000);
  assert.is(parseNanoCpus('.5'), 500_000_000);
  assert.is(parseNanoCpus('0.000000001'), 1);
  assert.is(parseNanoCpus('0.100000000000'), 100_000_000);
  assert.throws(() => parseNanoCpus('0.0000000001'), /value is too precise/);
  assert.throws(() => parseNanoCpus('abc'), /failed to parse abc as a rational number/);
});

test.run();
