import { parseDockerfile, readLogicalLines } from '@berth/builder';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lines, throwsMessage } from './helpers.js';

test('parser directives at the top: syntax recorded, escape set, check ignored', () => {
  const df = parseDockerfile(
    lines('# syntax=docker/dockerfile:1.7', '# escape=`', '#check=skip=all', 'FROM busybox', 'RUN echo a `', '  b'),
  );
  assert.equal(
    df.directives.map((d) => [d.name, d.value, d.line]),
    [
      ['syntax', 'docker/dockerfile:1.7', 1],
      ['escape', '`', 2],
      ['check', 'skip=all', 3],
    ],
  );
  assert.is(df.syntax, 'docker/dockerfile:1.7');
  assert.is(df.escape, '`');
  const run = df.stages[0]!.instructions[0]!;
  assert.is(run.code, 'RUN echo a   b');
});

test('a directive after a comment, a blank line or an instruction is a plain comment', () => {
  assert.is(parseDockerfile(lines('# hello', '# escape=`', 'FROM busybox')).escape, '\\');
  assert.is(parseDockerfile(lines('', '# escape=`', 'FROM busybox')).escape, '\\');
  assert.is(parseDockerfile(lines('FROM busybox', '# escape=`')).escape, '\\');
  assert.is(parseDockerfile(lines('# unknown=x', '# escape=`', 'FROM busybox')).escape, '\\');
});

test('a repeated directive and a bad escape token are errors', () => {
  throwsMessage(
    () => parseDockerfile(lines('# escape=`', '# escape=\\', 'FROM x')),
    'Dockerfile:2: only one escape parser directive can be used',
  );
  throwsMessage(() => parseDockerfile(lines('# escape=x', 'FROM x')), "Dockerfile:1: invalid escape token 'x' does not match ` or \\");
});

test('comments only at the start of a line, also between continuation lines', () => {
  const read = readLogicalLines(
    lines('FROM busybox', '  # indented comment', 'RUN echo one \\', '# a comment inside', '    two # not a comment'),
  );
  assert.equal(
    read.lines.map((l) => [l.text, l.startLine, l.endLine]),
    [
      ['FROM busybox', 1, 1],
      ['RUN echo one     two # not a comment', 3, 5],
    ],
  );
});

test('continuations: the escape at the end joins lines; an escaped escape does not; blank continuation lines warn', () => {
  const read = readLogicalLines(lines('FROM busybox', 'RUN a \\', '', '  b \\  ', 'c', 'RUN echo \\\\', 'RUN last'));
  assert.equal(
    read.lines.map((l) => l.text),
    ['FROM busybox', 'RUN a   b c', 'RUN echo \\\\', 'RUN last'],
  );
  assert.is(read.warnings.length, 1);
  assert.match(read.warnings[0]!.message, /^Empty continuation line found in: RUN a {3}b c/);
});

test('a continuation at the end of the file ends the instruction', () => {
  const read = readLogicalLines('FROM busybox\nRUN echo hi \\\n');
  assert.equal(read.lines[1]!.text, 'RUN echo hi ');
});

test('a byte-order mark and CRLF line endings are read as Docker does', () => {
  const read = readLogicalLines('\uFEFFFROM busybox\r\nRUN echo \\\r\n  hi\r\n');
  assert.equal(
    read.lines.map((l) => l.text),
    ['FROM busybox', 'RUN echo   hi'],
  );
});

test('heredocs: RUN <<EOF, content with line endings, line range through the delimiter', () => {
  const read = readLogicalLines(lines('FROM busybox', 'RUN <<EOF', 'echo one', '  echo two', 'EOF', 'RUN after'));
  const run = read.lines[1]!;
  assert.is(run.text, 'RUN <<EOF');
  assert.equal([run.startLine, run.endLine], [2, 5]);
  assert.equal(run.heredocs, [{ name: 'EOF', fileDescriptor: 0, expand: true, chomp: false, content: 'echo one\n  echo two\n' }]);
  assert.is(read.lines[2]!.text, 'RUN after');
});

test('heredocs: <<- strips tabs before the delimiter; quoted delimiters disable expansion', () => {
  const read = readLogicalLines(lines('FROM x', 'RUN <<-"END"', '\techo $HOME', '\tEND', "COPY <<'A' /a", 'A'));
  const run = read.lines[1]!.heredocs[0]!;
  assert.equal([run.name, run.chomp, run.expand, run.content], ['END', true, false, '\techo $HOME\n']);
  const copy = read.lines[2]!.heredocs[0]!;
  assert.equal([copy.name, copy.expand, copy.content], ['A', false, '']);
});

test('several heredocs on one line are read one after the other; a file descriptor is kept', () => {
  const read = readLogicalLines(lines('FROM x', 'RUN cat <<ONE 3<<TWO', 'first', 'ONE', 'second', 'TWO'));
  assert.equal(
    read.lines[1]!.heredocs.map((h) => [h.name, h.fileDescriptor, h.content]),
    [
      ['ONE', 0, 'first\n'],
      ['TWO', 3, 'second\n'],
    ],
  );
});

test('<< in an instruction that takes no heredocs, or inside quotes, is text', () => {
  const read = readLogicalLines(lines('FROM x', 'ENV A=<<EOF', 'RUN echo "<<EOF"', 'LABEL x=y'));
  assert.equal(
    read.lines.map((l) => [l.text, l.heredocs.length]),
    [
      ['FROM x', 0],
      ['ENV A=<<EOF', 0],
      ['RUN echo "<<EOF"', 0],
      ['LABEL x=y', 0],
    ],
  );
});

test('the JSON form takes no heredocs, also under ONBUILD; ONBUILD RUN <<EOF does', () => {
  const read = readLogicalLines(lines('FROM x', 'RUN ["cat", "<<EOF"]', 'COPY ["<<EOF", "/x"]', 'ONBUILD RUN <<EOF', 'echo later', 'EOF'));
  assert.equal(
    read.lines.map((l) => [l.text, l.heredocs.map((h) => h.content)]),
    [
      ['FROM x', []],
      ['RUN ["cat", "<<EOF"]', []],
      ['COPY ["<<EOF", "/x"]', []],
      ['ONBUILD RUN <<EOF', ['echo later\n']],
    ],
  );
});

test('heredoc content is taken as it is: comment lines, blank lines, trailing escapes', () => {
  const read = readLogicalLines(lines('FROM x', 'RUN <<EOF', '# not a Dockerfile comment', '', 'echo a \\', 'EOF'));
  assert.is(read.lines[1]!.heredocs[0]!.content, '# not a Dockerfile comment\n\necho a \\\n');
});

test('an unterminated heredoc is an error naming its first line', () => {
  throwsMessage(() => parseDockerfile(lines('FROM x', 'RUN <<EOF', 'echo hi', 'EO')), 'Dockerfile:2: unterminated heredoc');
});

test.run();
